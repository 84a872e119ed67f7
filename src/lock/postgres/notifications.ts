/**
 * The PostgreSQL store's notification channels and what their messages
 * mean, as lease events. Written by the acquire, update and release
 * statements (`pg_notify`, see `sql/*.sql`) and read by
 * `PostgresLeaseStore.subscribe`:
 *
 * - `acquired`, `updated`: as named.
 * - `released:<subscribers>`: a release, and how many watchers it notified.
 *
 * The LISTEN connection's reconnect marker is not a message of a channel:
 * the store handles it itself.
 */
import { createHash } from 'node:crypto';
import type { LeaseEvent, LeaseEventDetail } from '../lease-store.js';

/**
 * Notification channel of a name: `tenure_` + 40 hex digits of
 * SHA-256(table, name). Fits PostgreSQL's 63-byte identifiers whatever the
 * name, and differs between tables.
 */
export function channelName(table: string, name: string): string {
  const digest = createHash('sha256').update(`${table}\n${name}`).digest('hex');
  return `tenure_${digest.slice(0, 40)}`;
}

/** The event a channel message announces, or `undefined` for one tenure did not write. */
export function decodeNotification(message: string): [LeaseEvent, LeaseEventDetail?] | undefined {
  if (message === 'acquired' || message === 'updated') return [message];
  if (message.startsWith('released:')) {
    const subscribers = Number(message.slice(9));
    return ['released', Number.isInteger(subscribers) ? { subscribers } : {}];
  }
  return undefined;
}
