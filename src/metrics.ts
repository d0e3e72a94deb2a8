/**
 * Metrics, through `@opentelemetry/api` (meter `sockpass`), only when the app
 * asks for them: `new SockPass({ metrics: true })` reads the API's global
 * meter provider (a no-op until the app installs an SDK), `{ meter }` uses
 * the app's own meter. `@opentelemetry/api` is an optional peer dependency,
 * loaded the first time metrics are configured; without the option nothing
 * is loaded and nothing is recorded.
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
 * client; namespaces past a bound are counted as `other`.
 *
 * @module
 */
import { loadOptionalPeer } from './optional-peer.js';

/** Attribute values, as the OpenTelemetry API takes them. */
export type MetricAttributes = Record<string, string>;

/** The part of an OpenTelemetry `Counter` / `UpDownCounter` sockpass uses. */
export interface CounterLike {
  /** Adds `value` (negative for an up-down counter going down) under `attributes`. */
  add(value: number, attributes?: MetricAttributes): void;
}

/** The part of an OpenTelemetry `Histogram` sockpass uses. */
export interface HistogramLike {
  /** Records one measurement under `attributes`. */
  record(value: number, attributes?: MetricAttributes): void;
}

/** The part of an OpenTelemetry `Meter` sockpass uses (`metrics.getMeter('sockpass')` fits). */
export interface MeterLike {
  /** Makes a monotonic counter. */
  createCounter(name: string, options?: object): CounterLike;
  /** Makes a counter that can go down (the authenticated-sockets gauge). */
  createUpDownCounter(name: string, options?: object): CounterLike;
  /** Makes a histogram (handshake durations). */
  createHistogram(name: string, options?: object): HistogramLike;
}

/**
 * The `metrics` option: `true` for the global meter provider of
 * `@opentelemetry/api` (followed if the app installs or replaces it later),
 * or `{ meter }` for a meter the app made. Default: no metrics.
 */
export type MetricsOption =
  | boolean
  | {
      /** The meter sockpass creates its instruments on, e.g. `metrics.getMeter('sockpass')`. */
      meter: MeterLike;
    };

interface OtelApi {
  metrics: { getMeterProvider(): { getMeter(name: string): MeterLike } };
  createNoopMeter(): MeterLike;
  ValueType: { INT: number };
}

/** Loads the optional peer; a clear error when the app did not install it. */
function loadOtelApi(): OtelApi {
  return loadOptionalPeer<OtelApi>('@opentelemetry/api', 'the `metrics` option');
}

interface Instruments {
  handshakes: CounterLike;
  handshakeDuration: HistogramLike;
  authenticatedSockets: CounterLike;
  refreshes: CounterLike;
  expiries: CounterLike;
  revocations: CounterLike;
  rateLimited: CounterLike;
  jwksFetches: CounterLike;
}

/**
 * Distinct namespaces kept as attribute values: dynamic namespaces
 * (`io.of(/^\/room-\d+$/)`) are named by clients, so past this many the
 * rest are counted as `other` rather than growing every metrics backend
 * without bound.
 */
const MAX_NAMESPACES = 256;

/** One registry's (or one key source's) instruments. */
export class Metrics {
  readonly #api: OtelApi | undefined;
  readonly #fixed: Instruments | undefined;
  #provider: unknown;
  #instruments: Instruments | undefined;
  readonly #namespaces = new Set<string>();

  private constructor(option: true | { meter: MeterLike }) {
    if (option === true) this.#api = loadOtelApi();
    else this.#fixed = build(option.meter, 1);
  }

  /** The instruments for `option`, or undefined when metrics are off. */
  static from(option: MetricsOption | undefined): Metrics | undefined {
    if (option === undefined || option === false) return undefined;
    if (option !== true && typeof option?.meter?.createCounter !== 'function') {
      throw new TypeError('sockpass: `metrics` takes true or { meter } (an OpenTelemetry Meter)');
    }
    return new Metrics(option);
  }

  /** The instruments of the current global provider, or undefined when it is the no-op one. */
  #current(): Instruments | undefined {
    if (this.#fixed !== undefined) return this.#fixed;
    const api = this.#api!;
    const provider = api.metrics.getMeterProvider();
    if (provider !== this.#provider) {
      this.#provider = provider;
      const instruments = build(provider.getMeter('sockpass'), api.ValueType.INT);
      // The API's no-op meter hands out one shared no-op counter: no SDK listens.
      this.#instruments = instruments.handshakes === api.createNoopMeter().createCounter('sockpass.probe') ? undefined : instruments;
    }
    return this.#instruments;
  }

  /** A start time for `handshake`, or -1 when nothing listens (so the clock is not even read). */
  handshakeStarted(): number {
    return this.#current() === undefined ? -1 : performance.now();
  }

  /** One handshake decided: `outcome` is `success`, `deferred` or the AuthError code. */
  handshake(strategy: string | undefined, outcome: string, startedAt: number): void {
    const i = this.#current();
    if (i === undefined) return;
    const attributes = { strategy: strategy ?? 'none', outcome };
    i.handshakes.add(1, attributes);
    if (startedAt >= 0) i.handshakeDuration.record((performance.now() - startedAt) / 1000, attributes);
  }

  /** +1 when a socket becomes authenticated, -1 when it leaves (disconnect, expiry, revocation). */
  socketAuthenticated(strategy: string, namespace: string, delta: 1 | -1): void {
    this.#current()?.authenticatedSockets.add(delta, { strategy, namespace: this.#namespace(namespace) });
  }

  /** One in-band refresh answered: `success` or the AuthError code. */
  refresh(strategy: string, outcome: string): void {
    this.#current()?.refreshes.add(1, { strategy, outcome });
  }

  /** One socket cut because its credential expired. */
  expiry(strategy: string): void {
    this.#current()?.expiries.add(1, { strategy });
  }

  /** One revocation issued (`user`, `session` or `token`). */
  revocation(target: string): void {
    this.#current()?.revocations.add(1, { target });
  }

  /** One handshake refused by a limit (`address`, `subject` or `pending`). */
  rateLimited(limit: string): void {
    this.#current()?.rateLimited.add(1, { limit });
  }

  /** One JWKS fetch finished (`success` or `failure`). */
  jwksFetch(outcome: 'success' | 'failure'): void {
    this.#current()?.jwksFetches.add(1, { outcome });
  }

  #namespace(name: string): string {
    if (this.#namespaces.has(name)) return name;
    if (this.#namespaces.size >= MAX_NAMESPACES) return 'other';
    this.#namespaces.add(name);
    return name;
  }
}

function build(meter: MeterLike, int: number): Instruments {
  const count = (name: string, description: string, unit: string) => meter.createCounter(name, { description, unit, valueType: int });
  return {
    handshakes: count('sockpass.handshakes', 'Handshakes judged, by strategy and outcome', '{handshake}'),
    handshakeDuration: meter.createHistogram('sockpass.handshake.duration', {
      description: 'Time from the handshake reaching sockpass to its decision',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] },
    }),
    authenticatedSockets: meter.createUpDownCounter('sockpass.sockets.authenticated', {
      description: 'Sockets currently authenticated, by strategy and namespace',
      unit: '{socket}',
      valueType: int,
    }),
    refreshes: count('sockpass.refreshes', 'In-band token refreshes, by strategy and outcome', '{refresh}'),
    expiries: count('sockpass.expiries', 'Sockets cut because their credential expired', '{socket}'),
    revocations: count('sockpass.revocations', 'Revocations issued, by target kind', '{revocation}'),
    rateLimited: count('sockpass.rate_limited', 'Handshakes refused with rate_limited, by limit', '{handshake}'),
    jwksFetches: count('sockpass.jwks.fetches', 'Fetches of a JWKS key set, by outcome', '{fetch}'),
  };
}
