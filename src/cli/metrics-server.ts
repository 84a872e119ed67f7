/**
 * `--metrics-port`: a prom-client registry with tenure's metrics for the
 * elector and the `tenure/http` endpoints (`/metrics`, `/healthz`,
 * `/leader`). prom-client is an optional peer, loaded only when asked for.
 */
import type { MetricsProvider } from '../metrics/types.js';
import type * as PromClient from 'prom-client';
import type { Registry } from 'prom-client';
import { MissingPackageError } from './open-store.js';

export interface CliMetrics {
  readonly provider: MetricsProvider;
  readonly registry: Registry;
  stop(): void;
}

export async function loadMetrics(): Promise<CliMetrics> {
  let promClient: typeof PromClient;
  try {
    promClient = await import('prom-client');
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND')
      throw new MissingPackageError(
        '--metrics-port needs the prom-client package: npm install prom-client',
      );
    throw error;
  }
  const { prometheusMetrics, stopEventLoopMonitor } = await import('../metrics/prometheus.js');
  const registry = new promClient.Registry();
  promClient.collectDefaultMetrics({ register: registry });
  return {
    provider: prometheusMetrics({ registry }),
    registry,
    stop: () => stopEventLoopMonitor(registry),
  };
}
