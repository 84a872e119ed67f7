/**
 * What the Redis store's channel messages mean, as lease events. Written by
 * the scripts (see their headers) and read by `RedisLeaseStore.subscribe`:
 *
 * - `acquired`, `released`, `updated`: as named.
 * - `released:<subscribers>[:<life ms>:<ticket>]`: a release; with a ticket,
 *   whose turn it is in the FIFO queue and how long that ticket lives.
 * - `granted:<term>:<ttl>:<sha1 of the token>:<ticket>`: a release granted
 *   the lease directly to that ticket (an `acquired`).
 * - the subscriber's own reconnect marker: notifications were interrupted.
 */
import type { LeaseEvent, LeaseEventDetail } from '../lease-store.js';
import { RECONNECTED } from './subscriber.js';

/** The event a channel message announces, or `undefined` for one tenure did not write. */
export function decodeNotification(message: string): [LeaseEvent, LeaseEventDetail?] | undefined {
  if (message === 'acquired' || message === 'released' || message === 'updated') return [message];
  if (message === RECONNECTED) return ['released', { interrupted: true }];
  if (message.startsWith('granted:')) {
    const granted = parseGranted(message.slice(8));
    return ['acquired', granted ? { granted } : {}];
  }
  if (message.startsWith('released:')) {
    const [count, life, next] = splitReleased(message.slice(9));
    const subscribers = Number(count);
    return [
      'released',
      {
        ...(subscribers >= 0 ? { subscribers } : {}),
        ...(next ? { next, nextLifeMs: Math.max(0, Number(life) || 0) } : {}),
      },
    ];
  }
  return undefined;
}

/** `<term>:<ttl>:<sha1>:<ticket>` (a ticket may itself contain ':'). */
function parseGranted(rest: string): NonNullable<LeaseEventDetail['granted']> | undefined {
  const a = rest.indexOf(':');
  const b = rest.indexOf(':', a + 1);
  const c = rest.indexOf(':', b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  const term = Number(rest.slice(0, a));
  const ttlMs = Number(rest.slice(a + 1, b));
  if (!Number.isSafeInteger(term) || !Number.isSafeInteger(ttlMs)) return undefined;
  return { term, ttlMs, tokenSha1: rest.slice(b + 1, c), ticket: rest.slice(c + 1) };
}

/** `<n>[:<life>:<ticket>]` → [n, life, ticket] (a ticket may itself contain ':'). */
function splitReleased(rest: string): [string, string?, string?] {
  const a = rest.indexOf(':');
  if (a < 0) return [rest];
  const b = rest.indexOf(':', a + 1);
  if (b < 0) return [rest.slice(0, a)];
  return [rest.slice(0, a), rest.slice(a + 1, b), rest.slice(b + 1)];
}
