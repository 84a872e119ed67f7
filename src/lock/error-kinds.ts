/**
 * How callers treat a failed store operation (docs/safety.md, "Error
 * classification"): a *permanent* error cannot be fixed by retrying (an
 * operator must act); a *refusal* ends a held lease at once; everything else
 * ("not now": timeouts, lost connections, BUSY, LOADING, ...) is retried
 * until the lease's deadline.
 */
import { ConfigurationError, InternalError, LockKeyConflictError, StoreError } from '../errors.js';

/** Errors that retrying cannot fix: waits and watches end, elections back off. */
export function isPermanent(error: unknown): boolean {
  return (
    error instanceof ConfigurationError ||
    error instanceof LockKeyConflictError ||
    error instanceof InternalError
  );
}

/**
 * Whether a failed renewal may be retried until the deadline. Only a
 * `StoreError` that says it is not retryable (a definite refusal: read-only
 * replica, `NOREPLICAS`, key conflict, closed store) ends validity early;
 * anything unknown is retried, since the deadline bounds the harm.
 */
export function isRetryable(error: unknown): boolean {
  if (isPermanent(error)) return false;
  return !(error instanceof StoreError) || error.retryable;
}
