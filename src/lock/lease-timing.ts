/**
 * The timing rules every lease holder obeys (`Lock` and `Elector` name the
 * options differently: ttlMs/refreshMs vs leaseMs/renewMs). Checked once, up
 * front, with messages naming the caller's option names and values.
 */
import { MAX_TIMER_MS, finite, integer, rule } from '../internal/validate.js';
import { driftFor, type LeaseTiming } from './lease-keeper.js';

export interface TimingNames {
  readonly ttl: string;
  readonly refresh: string;
}

export interface TimingInput {
  readonly ttlMs: unknown;
  readonly refreshMs: unknown;
  readonly driftFactor: unknown;
  readonly requestTimeoutMs: unknown;
  readonly retryMs: number;
}

export function resolveLeaseTiming(names: TimingNames, input: TimingInput): LeaseTiming {
  const { ttl, refresh } = names;
  const ttlMs = integer(ttl, input.ttlMs, 100, MAX_TIMER_MS);
  const driftMs = driftFor(ttlMs, finite('driftFactor', input.driftFactor, 0, 0.5));
  const validMs = ttlMs - driftMs;
  const refreshMs = integer(refresh, input.refreshMs ?? Math.floor(ttlMs / 3), 10, MAX_TIMER_MS);
  rule(
    refresh,
    refreshMs < ttlMs,
    `Expected \`${refresh}\` < \`${ttl}\`, got ${refreshMs} >= ${ttlMs}`,
  );
  rule(
    refresh,
    2 * refreshMs <= validMs,
    `Expected \`${refresh}\` ≤ (\`${ttl}\` − drift) / 2 = ${Math.floor(validMs / 2)} for ${ttl} ${ttlMs} (two renewal attempts before the deadline), got ${refreshMs}`,
  );
  const requestTimeoutMs = integer(
    'requestTimeoutMs',
    input.requestTimeoutMs ?? refreshMs,
    1,
    MAX_TIMER_MS,
  );
  rule(
    'requestTimeoutMs',
    requestTimeoutMs < validMs,
    `Expected \`requestTimeoutMs\` < \`${ttl}\` − drift = ${validMs}, got ${requestTimeoutMs} (a reply after the deadline can grant nothing)`,
  );
  return {
    ttlMs,
    driftMs,
    refreshMs,
    refreshJitterMs: Math.floor(refreshMs / 10),
    renewRetryMs: Math.min(input.retryMs, refreshMs),
    requestTimeoutMs,
  };
}
