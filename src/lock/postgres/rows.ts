/**
 * Results of the store's statements, from the columns their rows carry (see
 * `sql/*.sql`). Columns are converted as is (`String`, `Number`), with no
 * further check: the statements are tenure's own.
 */
import type { AcquireResult, LeaseHolder } from '../lease-store.js';

/** A lease row as `inspect()` reads it, held or not. */
export interface LeaseRecord {
  readonly name: string;
  /** Whether someone holds it now. */
  readonly held: boolean;
  /** The latest holder's identity (kept after release). */
  readonly identity: string;
  /** The latest term issued for the name. */
  readonly term: number;
  /** The holder's data; after release only with `keepDataOnRelease`. */
  readonly data: string;
  /** Time to expiry while held, else 0. */
  readonly remainingMs: number;
}

/**
 * An acquire row: granted (with its term); refused by a holder with time
 * left; or refused with no holder, the name being reserved for a watcher's
 * fair hand-off for at least 1 ms.
 */
export function acquireResultOf(row: Record<string, unknown>): AcquireResult {
  const term = Number(row['term']);
  if (row['acquired'] === true) return { acquired: true, term };
  const remainingMs = Number(row['remaining_ms']);
  if (remainingMs > 0) {
    return {
      acquired: false,
      holder: { identity: String(row['identity']), term, data: String(row['data']), remainingMs },
    };
  }
  return { acquired: false, holder: null, reservedMs: Math.max(1, Number(row['reserved_ms'])) };
}

/** The holder in a read or list row. */
export function holderOf(row: Record<string, unknown>): LeaseHolder {
  return {
    identity: String(row['identity']),
    term: Number(row['term']),
    data: String(row['data']),
    remainingMs: Number(row['remaining_ms']),
  };
}

/** An inspect row; `remainingMs` is 0 unless held. */
export function leaseRecordOf(row: Record<string, unknown>): LeaseRecord {
  const held = row['held'] === true;
  return {
    name: String(row['name']),
    held,
    identity: String(row['identity']),
    term: Number(row['term']),
    data: String(row['data']),
    remainingMs: held ? Number(row['remaining_ms']) : 0,
  };
}
