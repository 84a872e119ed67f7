/**
 * One acquisition attempt, shared by `Locker` and `Elector`. Reads the
 * monotonic clock *before* the request is handed to the store (`sentAt`, the
 * start of validity), enforces the per-request timeout, and undoes grants
 * nobody can use: one that arrives after the request timed out, or after
 * its own deadline (`sentAt + ttlMs − driftMs`), is released at once with
 * compare-and-delete instead of blocking everyone for a ttl.
 */
import type { Clock } from '../internal/clock.js';
import { withTimeout } from '../internal/timeout.js';
import type { LeaseTiming } from './lease-keeper.js';
import type { LeaseHolder, LeaseRef, LeaseStore } from './lease-store.js';
import { OwnershipToken } from './ownership-token.js';
import { releaseQuietly } from './release-quietly.js';

export type AttemptOutcome =
  | { readonly granted: true; readonly lease: LeaseRef; readonly sentAt: number }
  /**
   * `holder` is null when the name is reserved for earlier waiters (then
   * `reservedMs` says for how long) or when the grant came too late to be used.
   */
  | {
      readonly granted: false;
      readonly holder: LeaseHolder | null;
      readonly reservedMs?: number;
    };

export interface AttemptRequest {
  readonly name: string;
  readonly identity: string;
  readonly data: string;
  readonly timing: LeaseTiming;
  /** The caller was refused by an earlier holder and is still waiting (see `LeaseStore`, fair hand-off). */
  readonly waiting?: boolean;
  /** The waiting call's stable ticket, for stores with a FIFO queue (see `AcquireRequest.ticket`). */
  readonly ticket?: string | undefined;
  /** Told each attempt's token and send time, just before the request goes out (direct grants). */
  readonly onSend?: ((token: OwnershipToken, sentAt: number) => void) | undefined;
  /**
   * Told the store's own promise of the request, which may settle after this
   * attempt timed out (a withdrawal of the ticket must come after it).
   */
  readonly onRequest?: ((request: Promise<unknown>) => void) | undefined;
  /**
   * The token (and its attempt's send time) whose SHA-1 the store names when it
   * had already granted this ticket the lease (`AcquireResult.grantedTokenSha1`).
   */
  readonly earlierAttempt?:
    ((tokenSha1: string) => { token: OwnershipToken; sentAt: number } | undefined) | undefined;
}

export async function attemptAcquire(
  store: LeaseStore,
  clock: Clock,
  request: AttemptRequest,
): Promise<AttemptOutcome> {
  const { name, identity, data, timing, waiting = false, ticket } = request;
  const token = OwnershipToken.generate();
  let sentAt = clock.now();
  request.onSend?.(token, sentAt);
  const call = store.acquire(
    ticket === undefined
      ? { name, token, ttlMs: timing.ttlMs, identity, data, waiting }
      : { name, token, ttlMs: timing.ttlMs, identity, data, waiting, ticket },
  );
  request.onRequest?.(call);
  const result = await withTimeout(call, timing.requestTimeoutMs, clock, 'acquire', (late) => {
    // A late grant under this attempt's token is nobody's: hand it back. Not a late
    // "already granted under an earlier token" ({3}): that lease may be the very lock
    // this call holds by now (a resent request, after a reconnect, answers this way);
    // a call that gave up frees it by withdrawing its ticket.
    if (late.acquired && late.grantedTokenSha1 === undefined)
      releaseQuietly(store, { name, token, term: late.term });
  });
  if (!result.acquired) {
    return result.holder
      ? { granted: false, holder: result.holder }
      : { granted: false, holder: null, reservedMs: result.reservedMs };
  }
  let lease: LeaseRef = { name, token, term: result.term };
  if (result.grantedTokenSha1 !== undefined) {
    // Granted earlier by a release under one of this call's earlier tokens: that attempt
    // was sent before the grant, so validity counts from it (this request only extended it).
    const earlier = request.earlierAttempt?.(result.grantedTokenSha1);
    if (!earlier) return { granted: false, holder: null };
    lease = { name, token: earlier.token, term: result.term };
    sentAt = earlier.sentAt;
  }
  if (clock.now() >= sentAt + timing.ttlMs - timing.driftMs) {
    releaseQuietly(store, lease);
    return { granted: false, holder: null };
  }
  return { granted: true, lease, sentAt };
}
