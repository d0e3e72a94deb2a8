/**
 * In-process cost of the operations features on a handshake, apart from the
 * end-to-end handshake bench (whose per-process spread, a few percent between
 * two servers running the same code, is larger than these costs):
 *
 * - the handshake limiter (`handshakeLimits()`, memory store): the check
 *   before the strategies run, on an address with no refusals;
 * - the metrics a handshake records (counter, latency histogram, the
 *   authenticated-sockets gauge up and down), with no SDK and with the
 *   OpenTelemetry SDK and a Prometheus reader installed.
 *
 * Run: `npx tsx bench/ops-cost.ts` (≈10 s). Medians of 7 rounds, µs per handshake.
 */
import { metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { handshakeLimits } from '../src/handshake/rate-limit.js';
import { Metrics } from '../src/metrics.js';

/** A registry's instruments, as `new SockPass({ metrics: true })` makes them. */
const instruments = Metrics.from(true)!;
import type { Decision } from '../src/handshake/pipeline.js';
import type { HandshakeContext } from '../src/types.js';

const N = 50_000;
const ROUNDS = 7;
const decision: Decision<unknown> = { kind: 'success', strategy: 'jwt-auth', result: { kind: 'success', user: 'u' } };
const contexts = Array.from({ length: 250 }, (_, i) => ({ address: `127.0.0.${i}`, headers: {}, auth: {}, query: {}, cookies: {} }) as unknown as HandshakeContext);

function cpuMicros(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start);
  return u.user + u.system;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function limiterRound(): Promise<{ limited: number; plain: number }> {
  const limits = handshakeLimits();
  let t = process.cpuUsage();
  for (let i = 0; i < N; i++) await limits.decideWithin(contexts[i % contexts.length]!, async () => decision);
  const limited = cpuMicros(t) / N;
  t = process.cpuUsage();
  for (let i = 0; i < N; i++) await (async () => decision)();
  return { limited, plain: cpuMicros(t) / N };
}

function metricsRound(): number {
  const t = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    const started = instruments.handshakeStarted();
    instruments.handshake('jwt-auth', 'success', started);
    instruments.socketAuthenticated('jwt-auth', '/', 1);
    instruments.socketAuthenticated('jwt-auth', '/', -1);
  }
  return cpuMicros(t) / N;
}

const limiter: number[] = [];
const noSdk: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const { limited, plain } = await limiterRound();
  limiter.push(limited - plain);
  noSdk.push(metricsRound());
}
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new PrometheusExporter({ preventServerStart: true })] }));
const sdk: number[] = [];
for (let r = 0; r < ROUNDS; r++) sdk.push(metricsRound());

console.log(`| what | µs per handshake (median of ${ROUNDS} rounds × ${N.toLocaleString('en')}) |`);
console.log('| --- | ---: |');
console.log(`| handshake limiter check (memory), over a bare async step | ${median(limiter).toFixed(2)} |`);
console.log(`| metrics of one handshake, no SDK | ${median(noSdk).toFixed(2)} |`);
console.log(`| metrics of one handshake, OTel SDK + Prometheus reader | ${median(sdk).toFixed(2)} |`);
