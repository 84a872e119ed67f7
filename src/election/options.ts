/**
 * Elector options: defaults in one frozen object and every rule, including
 * the relations between fields, checked once at construction (as client-go
 * does), with messages naming the options and values.
 */
import type { Clock } from '../internal/clock.js';
import { systemClock } from '../internal/clock.js';
import { type Logger, silentLogger } from '../internal/logger.js';
import { defaultIdentity } from '../internal/random.js';
import {
  MAX_TIMER_MS,
  boolean,
  describe,
  integer,
  ownOptions,
  text,
} from '../internal/validate.js';
import { InvalidOptionError } from '../errors.js';
import { encodeData } from '../lock/data.js';
import type { LeaseTiming } from '../lock/lease-keeper.js';
import { resolveLeaseTiming } from '../lock/lease-timing.js';
import type { LeaseStore } from '../lock/lease-store.js';
import type { MetricsProvider } from '../metrics/types.js';

export interface ElectorOptions {
  /** Any LeaseStore: `RedisLeaseStore`, `MemoryLeaseStore`, ... Not closed by the elector. */
  store: LeaseStore;
  /** The election's name (the lease name): 1–200 characters, no control characters, no `{` `}`. */
  election: string;
  /** Informational identity published with the lease. @default `${hostname}:${pid}:${random}` */
  identity?: string;
  /** Lease duration on the store. @default 15000 */
  ttlMs?: number;
  /** Renewal period while leading; `2 × renewMs ≤ ttlMs − drift`. @default ttlMs / 3 */
  renewMs?: number;
  /** Wait after a store failure (and before a resigned elector campaigns again). @default 2000 */
  retryMs?: number;
  /** Random extra wait in [0, retryJitterMs] on retries and on waking at a holder's expiry. @default retryMs / 4 */
  retryJitterMs?: number;
  /** `drift = ceil(driftFactor × ttlMs) + 2` ms is subtracted from validity. @default 0.01 */
  driftFactor?: number;
  /** Per-request timeout; `< ttlMs − drift`. @default renewMs */
  requestTimeoutMs?: number;
  /** JSON data published with the lease while leading (e.g. this instance's address). */
  data?: unknown;
  /** `false`: observe only. Never campaigns, still reports the leader. @default true */
  campaign?: boolean;
  /** A pino (or pino-compatible) logger. @default silent */
  logger?: Logger;
  /** Metrics backend, e.g. `prometheusMetrics({ registry })`. @default none */
  metrics?: MetricsProvider;
  /** How many leaderships `history` keeps. @default 100 */
  historyLimit?: number;
  /** Monotonic clock and timers; tests inject a fake one. @default performance.now() */
  clock?: Clock;
}

export const ELECTOR_DEFAULTS = Object.freeze({
  ttlMs: 15_000,
  retryMs: 2_000,
  driftFactor: 0.01,
  campaign: true,
  historyLimit: 100,
});

export interface ResolvedElectorOptions {
  readonly store: LeaseStore;
  readonly election: string;
  readonly identity: string;
  readonly timing: LeaseTiming;
  readonly retryMs: number;
  readonly retryJitterMs: number;
  readonly data: string;
  readonly campaign: boolean;
  readonly logger: Logger;
  readonly metrics: MetricsProvider | undefined;
  readonly historyLimit: number;
  readonly clock: Clock;
}

const KEYS = [
  'store',
  'election',
  'identity',
  'ttlMs',
  'renewMs',
  'retryMs',
  'retryJitterMs',
  'driftFactor',
  'requestTimeoutMs',
  'data',
  'campaign',
  'logger',
  'metrics',
  'historyLimit',
  'clock',
] as const;

export function resolveElectorOptions(input: unknown): ResolvedElectorOptions {
  if (input === undefined)
    throw new InvalidOptionError(
      'options',
      'Expected Elector options with `store` and `election`, got undefined',
    );
  const o = ownOptions('options', input, KEYS);
  const store = o['store'] as Partial<LeaseStore> | undefined;
  if (
    typeof store !== 'object' ||
    store === null ||
    typeof store.acquire !== 'function' ||
    typeof store.renew !== 'function'
  ) {
    throw new InvalidOptionError(
      'store',
      `Expected \`store\` to be a LeaseStore, got ${describe(o['store'])}`,
    );
  }
  const retryMs = integer('retryMs', o['retryMs'] ?? ELECTOR_DEFAULTS.retryMs, 10, MAX_TIMER_MS);
  const timing = resolveLeaseTiming({
    ttlMs: o['ttlMs'] ?? ELECTOR_DEFAULTS.ttlMs,
    renewMs: o['renewMs'],
    driftFactor: o['driftFactor'] ?? ELECTOR_DEFAULTS.driftFactor,
    requestTimeoutMs: o['requestTimeoutMs'],
    retryMs,
  });
  const retryJitterMs = integer(
    'retryJitterMs',
    o['retryJitterMs'] ?? Math.floor(retryMs / 4),
    0,
    MAX_TIMER_MS,
  );
  const logger = (o['logger'] as Logger | undefined) ?? silentLogger;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[level] !== 'function') {
      throw new InvalidOptionError(
        'logger',
        `Expected \`logger\` to have a ${level}() method (pino-compatible), got ${describe(o['logger'])}`,
      );
    }
  }
  const metrics = o['metrics'] as MetricsProvider | undefined;
  if (
    metrics !== undefined &&
    typeof (metrics as Partial<MetricsProvider>).forElector !== 'function'
  ) {
    throw new InvalidOptionError(
      'metrics',
      `Expected \`metrics\` to be a MetricsProvider (e.g. prometheusMetrics()), got ${describe(metrics)}`,
    );
  }
  const clock = (o['clock'] as Clock | undefined) ?? systemClock;
  return {
    store: store as LeaseStore,
    election: text('election', o['election'], 200, true),
    identity:
      o['identity'] === undefined ? defaultIdentity() : text('identity', o['identity'], 128),
    timing,
    retryMs,
    retryJitterMs,
    data: encodeData('data', o['data']),
    campaign: boolean('campaign', o['campaign'] ?? ELECTOR_DEFAULTS.campaign),
    logger,
    metrics,
    historyLimit: integer(
      'historyLimit',
      o['historyLimit'] ?? ELECTOR_DEFAULTS.historyLimit,
      0,
      100_000,
    ),
    clock,
  };
}
