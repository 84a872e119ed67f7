/**
 * What the etcd store remembers about the leases it granted, by name and
 * token: which incarnation of the key is ours (its create revision) and
 * which etcd lease keeps it alive. Entries of leases dropped without a
 * release (lost by their deadline, abandoned) are swept once they are
 * {@link SWEEP_MARGIN_MS} past their etcd ttl without a renewal; a swept
 * lease is still found again from its key (the store's `#find`).
 */
import type { LeaseRef } from '../lease-store.js';
import type { LeaseValue } from './records.js';

/** What the store knows about a lease it granted. */
export interface Held {
  readonly name: string;
  /** Create revision of the key: which incarnation is ours. */
  readonly created: number;
  leaseId: string;
  grantedMs: number;
  value: LeaseValue;
  /** Monotonic time after which etcd has surely dropped the lease if it was not renewed. */
  until: number;
}

/** How long past its etcd ttl a lease this store granted is remembered without a renewal. */
export const SWEEP_MARGIN_MS = 60_000;

/** The `until` of a lease granted (or renewed) now for `grantedMs`. */
export function heldUntil(grantedMs: number): number {
  return performance.now() + grantedMs + SWEEP_MARGIN_MS;
}

export class HeldLeases {
  readonly #held = new Map<string, Held>();
  /** Size at which the next `remember()` sweeps. */
  #sweepAt = 256;

  get(lease: LeaseRef): Held | undefined {
    return this.#held.get(heldKey(lease.name, lease.token.reveal()));
  }

  /** Records a grant of `grantedTtl` seconds (as etcd reports it); sweeps stale entries when many. */
  remember(
    name: string,
    token: string,
    created: number,
    leaseId: string,
    grantedTtl: string,
    value: LeaseValue,
  ): void {
    const grantedMs = Number(grantedTtl) * 1000;
    this.#held.set(heldKey(name, token), {
      name,
      created,
      leaseId,
      grantedMs,
      value,
      until: heldUntil(grantedMs),
    });
    if (this.#held.size >= this.#sweepAt) {
      // Locks dropped without release (lost by their deadline, abandoned) would pile up here.
      const now = performance.now();
      for (const [key, held] of this.#held) if (held.until < now) this.#held.delete(key);
      this.#sweepAt = Math.max(256, 2 * this.#held.size);
    }
  }

  forget(lease: LeaseRef): void {
    this.#held.delete(heldKey(lease.name, lease.token.reveal()));
  }

  clear(): void {
    this.#held.clear();
  }
}

function heldKey(name: string, token: string): string {
  return `${name}\u0000${token}`;
}
