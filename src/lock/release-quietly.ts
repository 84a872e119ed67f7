/**
 * The background hand-back shared by an acquisition that came too late
 * (acquire.ts) and a lease given up (lease-keeper.ts); its own file so that
 * neither imports the other.
 */
import type { LeaseRef, LeaseStore } from './lease-store.js';

/** Compare-and-delete in the background; a failure only means the lease expires by its ttl. */
export function releaseQuietly(store: LeaseStore, lease: LeaseRef): void {
  // Called from timers: a custom store that throws instead of rejecting must not escape.
  Promise.resolve()
    .then(() => store.release(lease))
    .catch(() => undefined);
}
