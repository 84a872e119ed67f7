/**
 * In-process lease store with the same contract as the Redis store: the
 * embedded default for the zero-install demo and for unit tests. It is not
 * shared across processes, so it elects among electors of one process only.
 * Expiry is measured on the injected monotonic clock. Terms follow the Redis
 * store's rule: issued term = max(last term + 1, wall clock in microseconds),
 * and, unlike a server that restarts, the store object remembers the highest
 * term it ever issued: `clear()` (the counters lost) does not reset that
 * floor, so terms keep increasing after it whatever the wall clock does (a
 * tight loop issues grants faster than one a microsecond, running the
 * counter ahead of the clock).
 */
import { StoreClosedError } from '../../errors.js';
import { type Clock, systemClock } from '../../internal/clock.js';
import { integer } from '../../internal/validate.js';
import type {
  AcquireRequest,
  AcquireResult,
  LeaseEvent,
  LeaseEventDetail,
  LeaseHolder,
  LeaseRef,
  LeaseStore,
  ListedLease,
  RenewResult,
  Unsubscribe,
  UpdateResult,
} from '../lease-store.js';

interface Entry {
  /** Empty for a hand-off reservation (nobody owns it). */
  token: string;
  reserved?: true;
  term: number;
  identity: string;
  data: string;
  expiresAt: number;
}

export interface MemoryLeaseStoreOptions {
  /** Monotonic clock for expiry. @default performance.now() */
  clock?: Clock;
  /** Wall clock in ms (fractional allowed), read in microseconds as the floor of each term (see the module comment). @default performance.timeOrigin + performance.now() */
  wallClock?: () => number;
  /** Fair hand-off window after a release that notified subscribers (see `LeaseStore`); 0 disables. @default 50 */
  handoffMs?: number;
}

export class MemoryLeaseStore implements LeaseStore {
  readonly kind = 'memory';
  readonly #clock: Clock;
  readonly #wallClock: () => number;
  readonly #handoffMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #fences = new Map<string, number>();
  /** The highest term this object ever issued, on any name: `clear()` keeps it (see the module comment). */
  #highest = 0;
  readonly #listeners = new Map<
    string,
    Set<(event: LeaseEvent, detail?: LeaseEventDetail) => void>
  >();
  #closed = false;

  constructor(options: MemoryLeaseStoreOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#wallClock = options.wallClock ?? (() => performance.timeOrigin + performance.now());
    this.#handoffMs = integer('handoffMs', options.handoffMs ?? 50, 0, 60_000);
  }

  acquire(request: AcquireRequest): Promise<AcquireResult> {
    return this.#op(() => {
      const current = this.#live(request.name);
      if (current?.reserved && !request.waiting)
        return { acquired: false, holder: null, reservedMs: this.#remaining(current) };
      if (current && !current.reserved) return { acquired: false, holder: this.#holder(current) };
      const term = this.#nextTerm(request.name);
      this.#entries.set(request.name, {
        token: request.token.reveal(),
        term,
        identity: request.identity,
        data: request.data,
        expiresAt: this.#clock.now() + request.ttlMs,
      });
      this.#notify(request.name, 'acquired');
      return { acquired: true, term };
    });
  }

  renew(lease: LeaseRef, ttlMs: number): Promise<RenewResult> {
    return this.#op(() => {
      const current = this.#live(lease.name);
      if (!current) return 'expired';
      if (current.token !== lease.token.reveal()) return 'stolen';
      current.expiresAt = this.#clock.now() + ttlMs;
      return 'renewed';
    });
  }

  update(lease: LeaseRef, data: string): Promise<UpdateResult> {
    return this.#op(() => {
      const current = this.#live(lease.name);
      if (!current || current.reserved) return 'expired';
      if (current.token !== lease.token.reveal()) return 'stolen';
      current.data = data;
      this.#notify(lease.name, 'updated');
      return 'updated';
    });
  }

  release(lease: LeaseRef): Promise<boolean> {
    return this.#op(() => {
      const current = this.#live(lease.name);
      if (!current || current.token !== lease.token.reveal()) return false;
      this.#entries.delete(lease.name);
      if (this.#notify(lease.name, 'released') && this.#handoffMs > 0) {
        this.#entries.set(lease.name, {
          token: '',
          reserved: true,
          term: current.term,
          identity: '',
          data: '',
          expiresAt: this.#clock.now() + this.#handoffMs,
        });
      }
      return true;
    });
  }

  read(name: string): Promise<LeaseHolder | null> {
    return this.#op(() => {
      const current = this.#live(name);
      return current && !current.reserved ? this.#holder(current) : null;
    });
  }

  list(prefix: string): Promise<ListedLease[]> {
    return this.#op(() =>
      [...this.#entries.keys()]
        .filter((name) => name.startsWith(prefix))
        .sort()
        .flatMap((name) => {
          const current = this.#live(name);
          return current && !current.reserved ? [{ name, ...this.#holder(current) }] : [];
        }),
    );
  }

  subscribe(
    name: string,
    listener: (event: LeaseEvent, detail?: LeaseEventDetail) => void,
  ): Promise<Unsubscribe> {
    return this.#op(() => {
      let set = this.#listeners.get(name);
      if (!set) this.#listeners.set(name, (set = new Set()));
      const entry = (event: LeaseEvent, detail?: LeaseEventDetail): void => listener(event, detail);
      set.add(entry);
      return () => {
        set.delete(entry);
        if (set.size === 0) this.#listeners.delete(name);
      };
    });
  }

  /** Simulates a store that lost all its data (a restart without persistence): leases and term counters vanish. */
  clear(): void {
    this.#entries.clear();
    this.#fences.clear();
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    return Promise.resolve();
  }

  // Operations apply synchronously (atomically) and answer asynchronously, like a network store.
  #op<T>(fn: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreClosedError());
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #live(name: string): Entry | undefined {
    const entry = this.#entries.get(name);
    if (entry && entry.expiresAt <= this.#clock.now()) {
      this.#entries.delete(name);
      return undefined;
    }
    return entry;
  }

  #holder(entry: Entry): LeaseHolder {
    return {
      identity: entry.identity,
      term: entry.term,
      data: entry.data,
      remainingMs: this.#remaining(entry),
    };
  }

  #remaining(entry: Entry): number {
    return Math.max(0, Math.ceil(entry.expiresAt - this.#clock.now()));
  }

  /** max(last + 1, wall-clock µs, highest ever issued + 1): never repeats, also after `clear()`. */
  #nextTerm(name: string): number {
    const last = Math.max(this.#fences.get(name) ?? 0, this.#highest);
    const term = Math.max(last + 1, Math.floor(this.#wallClock() * 1000));
    this.#fences.set(name, term);
    this.#highest = Math.max(this.#highest, term);
    return term;
  }

  /** Whether anyone was subscribed (like the receiver count of Redis PUBLISH). */
  #notify(name: string, event: LeaseEvent): boolean {
    const set = this.#listeners.get(name);
    if (!set) return false;
    // Deliver after the operation's reply, as a network store would. Each subscription
    // counts as one subscriber (a Redis connection is one, however many listeners it serves).
    const detail = event === 'released' ? { subscribers: set.size } : undefined;
    queueMicrotask(() => {
      for (const listener of [...set]) {
        try {
          listener(event, detail);
        } catch {
          // A listener's failure must not reach the operation that notified it.
        }
      }
    });
    return true;
  }
}
