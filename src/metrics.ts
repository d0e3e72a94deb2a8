/**
 * Metrics, through `@opentelemetry/api` (meter `sockpass`): the vendor-neutral
 * API, a no-op until the app installs an SDK (a `MeterProvider` with a reader
 * or exporter, e.g. Prometheus). sockpass never depends on an SDK.
 *
 * | instrument                         | kind           | attributes             |
 * |------------------------------------|----------------|------------------------|
 * | `sockpass.handshakes`              | counter        | `strategy`, `outcome`  |
 * | `sockpass.handshake.duration` (s)  | histogram      | `strategy`, `outcome`  |
 * | `sockpass.sockets.authenticated`   | up-down counter| `strategy`, `namespace`|
 * | `sockpass.refreshes`               | counter        | `strategy`, `outcome`  |
 * | `sockpass.expiries`                | counter        | `strategy`             |
 * | `sockpass.revocations`             | counter        | `target`               |
 * | `sockpass.rate_limited`            | counter        | `limit`                |
 * | `sockpass.jwks.fetches`            | counter        | `outcome`              |
 *
 * `outcome` is `success`, `deferred` (admitted to wait for an in-band
 * credential) or the AuthError code. Every attribute value comes from a
 * bounded set (registered strategy names, codes, namespaces), never from the
 * client. Cost without an SDK: one global lookup and a comparison per call;
 * instruments are built once per provider, and attribute objects are cached,
 * so a handshake allocates nothing here.
 *
 * @module
 */
import {
  createNoopMeter,
  metrics,
  ValueType,
  type Attributes,
  type Counter,
  type Histogram,
  type MeterProvider,
  type UpDownCounter,
} from '@opentelemetry/api';

/** The API's no-op counter: a meter that returns it has no SDK behind it. */
const NOOP_COUNTER = createNoopMeter().createCounter('sockpass.probe');

interface Instruments {
  handshakes: Counter;
  handshakeDuration: Histogram;
  authenticatedSockets: UpDownCounter;
  refreshes: Counter;
  expiries: Counter;
  revocations: Counter;
  rateLimited: Counter;
  jwksFetches: Counter;
}

let provider: MeterProvider | undefined;
let instruments: Instruments | undefined;

/** The instruments of the current global provider, or undefined when it is the no-op one. */
function current(): Instruments | undefined {
  const p = metrics.getMeterProvider();
  if (p !== provider) {
    provider = p;
    instruments = build(p);
  }
  return instruments;
}

function build(p: MeterProvider): Instruments | undefined {
  const meter = p.getMeter('sockpass');
  const handshakes = meter.createCounter('sockpass.handshakes', { description: 'Handshakes judged, by strategy and outcome', unit: '{handshake}' });
  if (handshakes === NOOP_COUNTER) return undefined;
  const count = (name: string, description: string, unit: string) => meter.createCounter(name, { description, unit, valueType: ValueType.INT });
  return {
    handshakes,
    handshakeDuration: meter.createHistogram('sockpass.handshake.duration', {
      description: 'Time from the handshake reaching sockpass to its decision',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] },
    }),
    authenticatedSockets: meter.createUpDownCounter('sockpass.sockets.authenticated', {
      description: 'Sockets currently authenticated, by strategy and namespace',
      unit: '{socket}',
      valueType: ValueType.INT,
    }),
    refreshes: count('sockpass.refreshes', 'In-band token refreshes, by strategy and outcome', '{refresh}'),
    expiries: count('sockpass.expiries', 'Sockets cut because their credential expired', '{socket}'),
    revocations: count('sockpass.revocations', 'Revocations issued, by target kind', '{revocation}'),
    rateLimited: count('sockpass.rate_limited', 'Handshakes refused with rate_limited, by limit', '{handshake}'),
    jwksFetches: count('sockpass.jwks.fetches', 'Fetches of a JWKS key set, by outcome', '{fetch}'),
  };
}

/** Attribute objects, made once per combination (all values come from bounded sets). */
const attributeCache = new Map<string, Map<string, Attributes>>();

function pair(k1: string, v1: string, k2: string, v2: string): Attributes {
  let inner = attributeCache.get(`${k1}=${v1}`);
  if (inner === undefined) attributeCache.set(`${k1}=${v1}`, (inner = new Map()));
  let attrs = inner.get(v2);
  if (attrs === undefined) inner.set(v2, (attrs = Object.freeze({ [k1]: v1, [k2]: v2 })));
  return attrs;
}

function single(k: string, v: string): Attributes {
  let inner = attributeCache.get(k);
  if (inner === undefined) attributeCache.set(k, (inner = new Map()));
  let attrs = inner.get(v);
  if (attrs === undefined) inner.set(v, (attrs = Object.freeze({ [k]: v })));
  return attrs;
}

/** A start time for `recordHandshake`, or -1 when no SDK listens (so the clock is not even read). */
export function handshakeStarted(): number {
  return current() === undefined ? -1 : performance.now();
}

/** One handshake decided: `outcome` is `success`, `deferred` or the AuthError code. */
export function recordHandshake(strategy: string | undefined, outcome: string, startedAt: number): void {
  const i = current();
  if (i === undefined || startedAt < 0) return;
  const attrs = pair('strategy', strategy ?? 'none', 'outcome', outcome);
  i.handshakes.add(1, attrs);
  i.handshakeDuration.record((performance.now() - startedAt) / 1000, attrs);
}

/** +1 when a socket becomes authenticated, -1 when it leaves (disconnect, expiry, revocation). */
export function socketAuthenticated(strategy: string, namespace: string, delta: 1 | -1): void {
  current()?.authenticatedSockets.add(delta, pair('strategy', strategy, 'namespace', namespace));
}

/** One in-band refresh answered: `success` or the AuthError code. */
export function recordRefresh(strategy: string, outcome: string): void {
  current()?.refreshes.add(1, pair('strategy', strategy, 'outcome', outcome));
}

/** One socket cut because its credential expired. */
export function recordExpiry(strategy: string): void {
  current()?.expiries.add(1, single('strategy', strategy));
}

/** One revocation issued (`user`, `session` or `token`). */
export function recordRevocation(target: string): void {
  current()?.revocations.add(1, single('target', target));
}

/** One handshake refused by a limit (`address`, `subject` or `pending`). */
export function recordRateLimited(limit: string): void {
  current()?.rateLimited.add(1, single('limit', limit));
}

/** One JWKS fetch finished (`success` or `failure`). */
export function recordJwksFetch(outcome: 'success' | 'failure'): void {
  current()?.jwksFetches.add(1, single('outcome', outcome));
}
