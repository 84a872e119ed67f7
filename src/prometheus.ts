/** The `tenure/prometheus` entry point: needs `prom-client` installed. */
export {
  prometheusMetrics,
  stopEventLoopMonitor,
  type PrometheusMetricsOptions,
} from './metrics/prometheus.js';
