/**
 * tenure: leader election and lease locks for Node.js fleets.
 * See README.md for the guarantees and what is not guaranteed.
 */
export * from './errors.js';
export type { Clock, TimerHandle } from './internal/clock.js';
export { systemClock } from './internal/clock.js';
export type { JsonValue } from './lock/data.js';
export type {
  AcquireRequest,
  AcquireResult,
  LeaseEvent,
  LeaseEventDetail,
  LeaseHolder,
  LeaseRef,
  LeaseStore,
  ListedLease,
  RenewResult,
  Unsubscribe,
} from './lock/lease-store.js';
export { OwnershipToken } from './lock/ownership-token.js';
export { Lock } from './lock/lock.js';
export { LOCK_DEFAULTS, type LockOptions } from './lock/lock-options.js';
export { Locker, type LockerOptions, type LockInfo, type WatchOptions } from './lock/locker.js';
export { MemoryLeaseStore, type MemoryLeaseStoreOptions } from './lock/memory/memory-store.js';
export {
  RedisLeaseStore,
  type RedisClientLike,
  type RedisLeaseStoreOptions,
  type RedisStoreStats,
} from './lock/redis/redis-store.js';
export { Elector } from './election/elector.js';
export { ELECTOR_DEFAULTS, type ElectorOptions } from './election/options.js';
export type {
  ElectedEvent,
  ElectorEvents,
  ElectorState,
  LeaderInfo,
  LeadershipRecord,
  RevokedEvent,
  RevokeReason,
  StateEvent,
} from './election/events.js';
export type { Logger } from './internal/logger.js';
export type {
  AttemptResult,
  ElectionMetrics,
  ElectorProbe,
  MetricsProvider,
  RenewFailure,
} from './metrics/types.js';
export type { ElectorHealth } from './election/events.js';
