/**
 * A LeaseStore that forwards every call to a real store (`inner`), except the
 * operations given in `overrides`: tests change one behaviour of a working
 * store (a subscribe that hangs, a renew that fails) and keep the rest real.
 */
import type { LeaseStore } from '../../src/lock/lease-store.js';

export function delegatingStore(
  inner: LeaseStore,
  overrides: Partial<Omit<LeaseStore, 'kind'>> = {},
): LeaseStore {
  return {
    kind: `${inner.kind}+test`,
    acquire: (request) => inner.acquire(request),
    renew: (lease, ttlMs) => inner.renew(lease, ttlMs),
    release: (lease) => inner.release(lease),
    read: (name) => inner.read(name),
    subscribe: (name, listener) => inner.subscribe(name, listener),
    ...(inner.update ? { update: inner.update.bind(inner) } : {}),
    close: () => inner.close(),
    ...overrides,
  };
}
