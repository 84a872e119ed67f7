/**
 * The Elector's events, states and the shapes they carry. Listeners run
 * synchronously; a listener that throws (or returns a rejected promise) is
 * reported through `error` and never stops the elector or the other listeners.
 */
import type { JsonValue } from '../lock/data.js';

/**
 * `follower`: not leading (waiting, or observing). `candidate`: an acquisition
 * request is in flight. `leader`: holding the lease. `stopped`: after `stop()`.
 * `state` is the last transition; `isLeader` is the authoritative, computed answer.
 */
export type ElectorState = 'follower' | 'candidate' | 'leader' | 'stopped';

/**
 * Why leadership ended. `deadline`: no renewal confirmed before the local
 * deadline. `lost`: the store says the lease expired or another owner holds
 * it. `refused`: the store definitively refused the renewal (read-only replica,
 * not enough replicas, key conflict). `released`: `resign()`. `stopped`: `stop()`.
 */
export type RevokeReason = 'deadline' | 'lost' | 'refused' | 'released' | 'stopped';

/** The leader as known to this elector. */
export interface LeaderInfo {
  readonly identity: string;
  readonly term: number;
  readonly data: JsonValue | undefined;
  /** Whether this elector is the leader. */
  readonly isSelf: boolean;
}

export interface ElectedEvent {
  readonly term: number;
  /** Aborted the moment leadership ends, for any reason. Hand it to the leader's work. */
  readonly signal: AbortSignal;
}

export interface RevokedEvent {
  readonly term: number;
  readonly reason: RevokeReason;
  /** The store error behind `refused`, if any. */
  readonly cause?: unknown;
}

export interface StateEvent {
  readonly from: ElectorState;
  readonly to: ElectorState;
}

/** Listeners may be async: a rejected promise is reported on `error` like a thrown error. */
type Listener<T> = (event: T) => unknown;

export interface ElectorEvents {
  /** This elector became leader. Exactly once per term, always before the matching `revoked`. */
  elected: Listener<ElectedEvent>;
  /** This elector stopped leading. Exactly once per `elected`, never without one. */
  revoked: Listener<RevokedEvent>;
  /** The known leader changed: a new term, or `null` when there is no (known) leader. */
  leader: Listener<LeaderInfo | null>;
  /** Every state transition. */
  state: Listener<StateEvent>;
  /** Store failures, listener failures and `runWhileLeader` task failures. The elector keeps going. */
  error: Listener<Error>;
}

/** One leadership as observed by this elector (its own or another's). */
export interface LeadershipRecord {
  readonly identity: string;
  readonly term: number;
  /** Wall-clock ms when this elector first saw it. */
  readonly from: number;
  /** Wall-clock ms when this elector saw it end, or null while current. */
  to: number | null;
  /** Why it ended: the revoke reason for our own terms; `replaced` or `vacated` for others'. */
  reason: RevokeReason | 'replaced' | 'vacated' | null;
}

/** See `Elector.health()`. */
export interface ElectorHealth {
  readonly healthy: boolean;
  /** Why it is unhealthy, or null. */
  readonly problem: string | null;
  readonly state: ElectorState;
  readonly isLeader: boolean;
  readonly term: number | null;
  readonly leader: LeaderInfo | null;
  /** While leading: ms since the last confirmed acquire/renew was sent. */
  readonly lastRenewalAgoMs: number | null;
  /** ms since store operations started failing, or null while they succeed. */
  readonly storeFailingForMs: number | null;
}
