/**
 * The timing rules every lease holder obeys (`Lock` and `Elector` share the
 * option names `ttlMs`, `renewMs`, `driftFactor`, `requestTimeoutMs`).
 * Checked once, up front, with messages naming the options and values.
 */
import { MAX_TIMER_MS, finite, integer, rule } from '../internal/validate.js';
import { driftFor, type LeaseTiming } from './lease-keeper.js';

export interface TimingInput {
  readonly ttlMs: unknown;
  readonly renewMs: unknown;
  readonly driftFactor: unknown;
  readonly requestTimeoutMs: unknown;
  readonly retryMs: number;
}

export function resolveLeaseTiming(input: TimingInput): LeaseTiming {
  const ttl = 'ttlMs';
  const renew = 'renewMs';
  const ttlMs = integer(ttl, input.ttlMs, 100, MAX_TIMER_MS);
  const driftMs = driftFor(ttlMs, finite('driftFactor', input.driftFactor, 0, 0.5));
  const validMs = ttlMs - driftMs;
  const renewMs = integer(renew, input.renewMs ?? Math.floor(ttlMs / 3), 10, MAX_TIMER_MS);
  rule(renew, renewMs < ttlMs, `Expected \`${renew}\` < \`${ttl}\`, got ${renewMs} >= ${ttlMs}`);
  rule(
    renew,
    2 * renewMs <= validMs,
    `Expected \`${renew}\` ≤ (\`${ttl}\` − drift) / 2 = ${Math.floor(validMs / 2)} for ${ttl} ${ttlMs} (two renewal attempts before the deadline), got ${renewMs}`,
  );
  const requestTimeoutMs = integer(
    'requestTimeoutMs',
    input.requestTimeoutMs ?? renewMs,
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
    renewMs,
    renewJitterMs: Math.floor(renewMs / 10),
    renewRetryMs: Math.min(input.retryMs, renewMs),
    requestTimeoutMs,
  };
}
