/**
 * What the elector reports to a metrics backend. The elector depends only on
 * this interface; the prom-client implementation lives in
 * `src/metrics/prometheus.ts`, the only file that imports prom-client.
 */
import type { RevokeReason } from '../election/events.js';

export type AttemptResult = 'acquired' | 'held' | 'error';
export type RenewFailure = 'timeout' | 'unavailable' | 'error';

/** Read at scrape time, so gauges are never stale. */
export interface ElectorProbe {
  isLeader(): boolean;
  /** This elector's term while it leads, else null. */
  term(): number | null;
  /** Lease validity left on the local monotonic clock, in ms (0 when not leading). */
  remainingMs(): number;
  /** The lease ttl this elector asks for, in ms (for alerts relative to it). */
  ttlMs?(): number;
}

/** Per-elector sink; every method should be cheap. A throw is isolated and reported. */
export interface ElectionMetrics {
  attempt(result: AttemptResult): void;
  elected(term: number): void;
  revoked(reason: RevokeReason): void;
  renewed(durationMs: number): void;
  renewFailed(reason: RenewFailure): void;
  /** The known leader changed (seen by any participant, including observers). */
  leaderChanged(): void;
  /** The elector stopped: gauges for it are removed. */
  close(): void;
}

/**
 * Creates the sink for one elector, labelled with its election and identity.
 * Called once, in the Elector's constructor: if it throws, the constructor
 * throws (a misconfigured registry fails fast). The sink's methods may throw
 * or be missing: the elector isolates them and reports failures on `error`.
 */
export interface MetricsProvider {
  forElector(
    labels: { readonly election: string; readonly identity: string },
    probe: ElectorProbe,
  ): ElectionMetrics;
}

/** Every method of {@link ElectionMetrics}, for code that wraps a sink. */
export const ELECTION_METRICS_METHODS = [
  'attempt',
  'elected',
  'revoked',
  'renewed',
  'renewFailed',
  'leaderChanged',
  'close',
] as const satisfies readonly (keyof ElectionMetrics)[];

const noop = (): void => undefined;

export const noopMetrics: ElectionMetrics = {
  attempt: noop,
  elected: noop,
  revoked: noop,
  renewed: noop,
  renewFailed: noop,
  leaderChanged: noop,
  close: noop,
};
