/**
 * The etcd store's view of an etcd lease's time: one keep-alive (which
 * renews the lease and reports its ttl), and a holder's remaining time from
 * etcd's `LeaseTimeToLive` answer. etcd counts whole seconds.
 */
import type { ILeaseTimeToLiveResponse } from 'etcd3';
import { StoreUnavailableError } from '../../errors.js';
import type { EtcdClientLike } from './options.js';
import type { LeaseValue } from './records.js';

/** Reported for a holder or ticket whose etcd lease is gone but whose key etcd has not deleted yet. */
export const EXPIRY_PENDING_MS = 100;

/**
 * One keep-alive on a short-lived stream; resolves with the ttl etcd
 * reports (≤ 0: the lease is gone). After the reply the stream is
 * half-closed (`end()`), which etcd answers by closing it: cancelling it
 * instead (RST_STREAM) made the next requests on the connection take an
 * extra round trip (measured through a delaying proxy). `call` carries the
 * request's deadline.
 */
export async function keepAliveOnce(
  leaseClient: EtcdClientLike['leaseClient'],
  leaseId: string,
  call: { deadline: number },
): Promise<number> {
  const stream = await leaseClient.leaseKeepAlive(call);
  let answered = false;
  try {
    return await new Promise<number>((resolve, reject) => {
      stream.on('data', (reply) => {
        answered = true;
        resolve(Number(reply.TTL));
      });
      stream.on('error', reject);
      stream.on('end', () =>
        reject(
          new StoreUnavailableError('etcd ended the keep-alive stream without a reply', {
            ambiguous: true,
          }),
        ),
      );
      stream.write({ ID: leaseId });
    });
  } finally {
    try {
      if (answered) stream.end();
      else stream.cancel(); // failed or timed out: the 'error' it may emit now is ignored
    } catch {
      // already closed
    }
  }
}

/**
 * The holder's remaining time, from its etcd lease's time to live. etcd
 * reports whole seconds rounded toward zero (0: under a second left, or run
 * out and about to be deleted; -1: gone), so this is an upper bound, within
 * 1 s, of when etcd frees the name; 0 when the lease is gone.
 */
export function remainingMsOf(ttl: ILeaseTimeToLiveResponse, value: LeaseValue): number {
  const seconds = Number(ttl.TTL);
  if (seconds < 0) return 0;
  return Math.min(seconds * 1000 + 999, Math.max(Number(ttl.grantedTTL) * 1000, value.ttlMs));
}
