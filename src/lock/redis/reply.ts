/**
 * Defensive decoding of script replies. ioredis may deliver integers as
 * numbers (RESP2 and RESP3), as strings (`stringNumbers: true`) or as
 * bigints, and bulk strings as strings or Buffers. Anything else is a bug
 * and raises {@link InternalError}.
 */
import { InternalError } from '../../errors.js';

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
