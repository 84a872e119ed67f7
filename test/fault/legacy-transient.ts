/**
 * The error classification before issue 10, for the U8 must-fire scenario:
 * Redis's "not now" replies (`BUSY`, `LOADING`, ...) were definite
 * (`ambiguous: false`) and a lease keeper ended validity on any definite
 * error. Wrapping a store with this re-throws those errors as not retryable,
 * so the shipped keeper behaves as the old one did. Test-only.
 */
import { StoreUnavailableError } from '../../src/errors.js';
import type { LeaseStore } from '../../src/lock/lease-store.js';

function asRefusal(error: unknown): never {
  if (error instanceof StoreUnavailableError && !error.ambiguous)
    throw new StoreUnavailableError(error.message, { cause: error, retryable: false });
  throw error;
}

export function withLegacyTransient(store: LeaseStore): LeaseStore {
  return {
    kind: store.kind,
    acquire: (request) => store.acquire(request).catch(asRefusal),
    renew: (lease, ttlMs) => store.renew(lease, ttlMs).catch(asRefusal),
    release: (lease) => store.release(lease),
    read: (name) => store.read(name),
    subscribe: (name, listener) => store.subscribe(name, listener),
    close: () => store.close(),
  };
}
