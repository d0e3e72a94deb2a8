/**
 * The compare demo's live counters: an OpenTelemetry SDK (MeterProvider with
 * a reader that collects on demand) installed as the API's global provider,
 * and `GET /metrics.json` summing sockpass's handshake counter and latency
 * histogram per strategy and outcome for the page's small metrics panel
 * (`public/metrics-panel.js`). A production app would export the same
 * instruments to Prometheus or an OTLP collector instead (see examples/cluster).
 */
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics';
import type { Express } from 'express';

/** Collects only when asked, as a pull exporter does. */
class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

let reader: OnDemandReader | undefined;

/** One row of the panel: a strategy's handshakes by outcome, and their mean latency. */
export interface StrategyCounters {
  strategy: string;
  outcomes: Record<string, number>;
  meanMs: number | null;
}

/** Installs the SDK once per process and serves the panel's JSON. */
export function mountMetricsPanel(app: Express): void {
  if (reader === undefined) {
    reader = new OnDemandReader();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  }
  const source = reader;
  app.get('/metrics.json', async (_req, res) => {
    const { resourceMetrics } = await source.collect();
    const all = resourceMetrics.scopeMetrics.filter((s) => s.scope.name === 'sockpass').flatMap((s) => s.metrics);
    const rows = new Map<string, StrategyCounters & { sum: number; count: number }>();
    const row = (strategy: string) => {
      let r = rows.get(strategy);
      if (r === undefined) rows.set(strategy, (r = { strategy, outcomes: {}, meanMs: null, sum: 0, count: 0 }));
      return r;
    };
    for (const metric of all) {
      for (const point of metric.dataPoints as Array<DataPoint<number | Histogram>>) {
        const strategy = String(point.attributes.strategy ?? 'none');
        if (metric.descriptor.name === 'sockpass.handshakes') {
          const outcome = String(point.attributes.outcome);
          row(strategy).outcomes[outcome] = (row(strategy).outcomes[outcome] ?? 0) + (point.value as number);
        } else if (metric.descriptor.name === 'sockpass.handshake.duration') {
          const h = point.value as Histogram;
          row(strategy).sum += h.sum ?? 0;
          row(strategy).count += h.count;
        }
      }
    }
    res.json([...rows.values()].map(({ sum, count, ...r }) => ({ ...r, meanMs: count === 0 ? null : (sum / count) * 1000 })));
  });
}
