/**
 * Terms of the etcd store: `max(counter + 1, this process's wall clock in
 * µs)`, kept in a counter key without a lease (`terms/<name>`, see
 * records.ts) that outlives releases and expiries. Not the key's create
 * revision, although that is strictly increasing within one etcd history: a
 * restore from a snapshot (or a cluster rebuilt from nothing) takes
 * revisions back, and a fencing token must never go back (docs/safety.md,
 * "etcd"). The wall clock keeps terms growing even when the counter itself
 * went back with a restore.
 */
import type { IRangeResponse } from 'etcd3';
import { StoreError } from '../../errors.js';

/** The last term issued for a name, and the counter's mod revision to compare it on. */
export interface TermCounter {
  readonly term: number;
  /** 0: no counter yet. */
  readonly revision: number;
}

/**
 * The term counter in a range response (of the counter key) and the revision
 * to compare it on (0: no counter yet). A counter that does not hold a
 * non-negative safe integer is a non-retryable `StoreError`.
 */
export function counterOf(range: IRangeResponse | undefined, name: string): TermCounter {
  const kv = range?.kvs[0];
  if (!kv) return { term: 0, revision: 0 };
  const term = Number(kv.value.toString('utf8'));
  if (!Number.isSafeInteger(term) || term < 0) {
    throw new StoreError(
      `etcd: the term counter of ${JSON.stringify(name)} holds ${JSON.stringify(kv.value.toString('utf8'))}, not a term`,
      { ambiguous: false, retryable: false },
    );
  }
  return { term, revision: Number(kv.mod_revision) };
}

/** The term to issue after `last`: greater than it, and at least the wall clock in µs. */
export function nextTerm(last: TermCounter): number {
  return Math.max(last.term + 1, Math.floor(wallClockMs() * 1000));
}

/**
 * The system's wall clock, read now (`Date.now()`), so a correction of the
 * clock (an NTP step) after this process started counts; a monotonic-based
 * reading (`performance.timeOrigin + now()`) would keep a start-time error.
 */
function wallClockMs(): number {
  return Date.now();
}
