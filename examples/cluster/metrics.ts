/**
 * Prometheus metrics for a cluster node: an OpenTelemetry SDK (MeterProvider)
 * installed as the API's global provider, read by the Prometheus exporter on
 * the node's own HTTP server (`GET /metrics`) rather than on a second port.
 * sockpass itself only speaks `@opentelemetry/api`; this file is the app's
 * side, and the one place that picks an SDK and an exporter.
 *
 * One provider per process: nodes started in the same process (the browser
 * test starts two) share it, and each `/metrics` shows the process's counts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

let exporter: PrometheusExporter | undefined;

/** Installs the SDK once and returns the `/metrics` handler (Prometheus text format). */
export function prometheusHandler(): (req: IncomingMessage, res: ServerResponse) => void {
  if (exporter === undefined) {
    const created = new PrometheusExporter({ preventServerStart: true });
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [created] }));
    exporter = created;
  }
  const reader = exporter;
  return (req, res) => reader.getMetricsRequestHandler(req, res);
}
