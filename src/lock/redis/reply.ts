/**
 * Defensive decoding of script replies. ioredis may deliver integers as
 * numbers (RESP2 and RESP3), as strings (`stringNumbers: true`) or as
 * bigints, and bulk strings as strings or Buffers. Anything else is a bug
 * and raises {@link InternalError}.
 */
import { InternalError, LockKeyConflictError } from '../../errors.js';
import type { LeaseHolder } from '../lease-store.js';

export function toInt(value: unknown, what: string): number {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'bigint') n = Number(value);
  else if (typeof value === 'string' || Buffer.isBuffer(value)) n = Number(value.toString());
  else n = NaN;
  if (!Number.isSafeInteger(n)) {
    throw new InternalError(`Unexpected ${what} in Redis reply: ${typeof value}`);
  }
  return n;
}

export function toStr(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  throw new InternalError(`Unexpected ${what} in Redis reply: ${typeof value}`);
}

export function toArray(value: unknown, what: string, minLength: number): unknown[] {
  if (!Array.isArray(value) || value.length < minLength) {
    throw new InternalError(
      `Unexpected ${what} reply from Redis: expected an array of ${minLength}+`,
    );
  }
  return value as unknown[];
}

/** The holder in a script reply, from index `at`: identity, term, data, pttl. */
export function holder(parts: unknown[], at: number): LeaseHolder {
  return {
    identity: toStr(parts[at], 'identity'),
    term: toInt(parts[at + 1], 'term'),
    data: toStr(parts[at + 2], 'data'),
    remainingMs: Math.max(0, toInt(parts[at + 3], 'pttl')),
  };
}

/** The error for a script's `{-1, key, type, pttl}` reply (data tenure did not write). */
export function conflict(parts: unknown[]): LockKeyConflictError {
  const key = toStr(parts[1], 'key');
  const type = toStr(parts[2], 'type');
  const pttl = toInt(parts[3], 'pttl');
  const detail =
    type === 'hash' && pttl < 0
      ? 'without a TTL (not a lease tenure wrote, or its expiry was removed)'
      : type === 'hash'
        ? 'that is not a tenure lease'
        : 'where tenure expects its own data';
  return new LockKeyConflictError(key, type, detail);
}
