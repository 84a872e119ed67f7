/**
 * The elector's health as client-go's HealthzAdaptor sees it, as a pure
 * function of its state: unhealthy when it leads but has not confirmed a
 * renewal for `renewMs + renewToleranceMs`, or when every store call has
 * failed for longer than `storeToleranceMs`.
 */
import { integer, ownOptions } from '../internal/validate.js';
import type { LeaseTiming } from '../lock/lease-keeper.js';
import type { ElectorHealth, ElectorState, LeaderInfo } from './events.js';

export interface HealthInput {
  readonly state: ElectorState;
  readonly leading: boolean;
  readonly isLeader: boolean;
  readonly term: number | null;
  readonly leader: LeaderInfo | null;
  readonly lastRenewalAgoMs: number | null;
  readonly storeFailingForMs: number | null;
  readonly renewMs: number;
  readonly renewToleranceMs: number;
  readonly storeToleranceMs: number;
}

export function assessHealth(h: HealthInput): ElectorHealth {
  let problem: string | null = null;
  if (h.leading && !h.isLeader) problem = 'holds leadership past its deadline';
  else if (h.lastRenewalAgoMs !== null && h.lastRenewalAgoMs > h.renewMs + h.renewToleranceMs) {
    problem = `leads but has not renewed for ${Math.round(h.lastRenewalAgoMs)} ms`;
  } else if (h.storeFailingForMs !== null && h.storeFailingForMs > h.storeToleranceMs) {
    problem = `store failing for ${Math.round(h.storeFailingForMs)} ms`;
  }
  return {
    healthy: problem === null,
    problem,
    state: h.state,
    isLeader: h.isLeader,
    term: h.term,
    leader: h.leader,
    lastRenewalAgoMs: h.lastRenewalAgoMs,
    storeFailingForMs: h.storeFailingForMs,
  };
}

/** Validates `health()`'s options; defaults: renew tolerance `ttlMs − renewMs`, store tolerance `ttlMs`. */
export function healthTolerances(
  options: unknown,
  timing: LeaseTiming,
): { renewToleranceMs: number; storeToleranceMs: number } {
  const o = ownOptions('options', options, ['renewToleranceMs', 'storeToleranceMs']);
  const renew = o['renewToleranceMs'] ?? timing.ttlMs - timing.renewMs;
  return {
    renewToleranceMs: integer('renewToleranceMs', renew, 0),
    storeToleranceMs: integer('storeToleranceMs', o['storeToleranceMs'] ?? timing.ttlMs, 0),
  };
}
