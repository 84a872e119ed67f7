/**
 * Options of `Locker.lock()` / `tryLock()` / `withLock()`, their defaults in
 * one frozen object, and the cross-field rules checked up front.
 */
import {
  MAX_TIMER_MS,
  abortSignal,
  integer,
  integerOrInfinity,
  ownOptions,
} from '../internal/validate.js';
import { encodeData } from './data.js';
import type { LeaseTiming } from './lease-keeper.js';
import { resolveLeaseTiming } from './lease-timing.js';

export interface LockOptions {
  /** Lease time-to-live on the store. @default 30000 */
  ttlMs?: number;
  /** Renew this often while held. Must leave room for two attempts: `2 × renewMs ≤ ttlMs − drift`. @default ttlMs / 3 */
  renewMs?: number;
  /** Wait between attempts when the store fails or the holder's expiry is unknown. @default 200 */
  retryMs?: number;
  /** Random extra wait in [0, retryJitterMs] added to each retry. @default 100 */
  retryJitterMs?: number;
  /** Retries after the first attempt before `lock()` gives up; `Infinity` waits until `signal` aborts. @default Infinity */
  retryLimit?: number;
  /** Clock-drift allowance: validity is `ttlMs − (ceil(driftFactor × ttlMs) + 2)`. @default 0.01 */
  driftFactor?: number;
  /** Per-request timeout for acquire, renew and release; below `ttlMs − drift`. @default renewMs */
  requestTimeoutMs?: number;
  /** JSON data published with the lease, readable with `Locker.get()`. */
  data?: unknown;
  /** Cancels waiting for the lock. */
  signal?: AbortSignal;
}

export const LOCK_DEFAULTS = Object.freeze({
  ttlMs: 30_000,
  retryMs: 200,
  retryJitterMs: 100,
  retryLimit: Infinity,
  driftFactor: 0.01,
});

export interface ResolvedLockOptions {
  readonly timing: LeaseTiming;
  readonly retryMs: number;
  readonly retryJitterMs: number;
  readonly retryLimit: number;
  readonly data: string;
  readonly signal: AbortSignal | undefined;
}

const KEYS = [
  'ttlMs',
  'renewMs',
  'retryMs',
  'retryJitterMs',
  'retryLimit',
  'driftFactor',
  'requestTimeoutMs',
  'data',
  'signal',
] as const;

export function resolveLockOptions(input: unknown): ResolvedLockOptions {
  const o = ownOptions('options', input, KEYS);
  const retryMs = integer('retryMs', o['retryMs'] ?? LOCK_DEFAULTS.retryMs, 1, MAX_TIMER_MS);
  const timing = resolveLeaseTiming({
    ttlMs: o['ttlMs'] ?? LOCK_DEFAULTS.ttlMs,
    renewMs: o['renewMs'],
    driftFactor: o['driftFactor'] ?? LOCK_DEFAULTS.driftFactor,
    requestTimeoutMs: o['requestTimeoutMs'],
    retryMs,
  });
  const retryJitterMs = integer(
    'retryJitterMs',
    o['retryJitterMs'] ?? LOCK_DEFAULTS.retryJitterMs,
    0,
    MAX_TIMER_MS,
  );
  const retryLimit = integerOrInfinity(
    'retryLimit',
    o['retryLimit'] ?? LOCK_DEFAULTS.retryLimit,
    0,
  );
  return {
    timing,
    retryMs,
    retryJitterMs,
    retryLimit,
    data: encodeData('data', o['data']),
    signal: abortSignal('signal', o['signal']),
  };
}
