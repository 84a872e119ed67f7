/**
 * Demo helper: a view of a LeaseStore that can be cut off. After `sever()`
 * every call hangs forever, as for a process whose network (or whole
 * machine) went away; its elector then steps down at its own deadline.
 */
import type { AcquireRequest, LeaseEvent, LeaseRef, LeaseStore } from '../../src/index.js';

export class SeverableStore implements LeaseStore {
  readonly kind = 'severable';
  readonly #inner: LeaseStore;
  #severed = false;

  constructor(inner: LeaseStore) {
    this.#inner = inner;
  }

  sever(): void {
    this.#severed = true;
  }

  #call<T>(fn: () => Promise<T>): Promise<T> {
    return this.#severed ? new Promise<T>(() => undefined) : fn();
  }

  acquire(r: AcquireRequest) {
    return this.#call(() => this.#inner.acquire(r));
  }
  renew(l: LeaseRef, ttlMs: number) {
    return this.#call(() => this.#inner.renew(l, ttlMs));
  }
  release(l: LeaseRef) {
    return this.#call(() => this.#inner.release(l));
  }
  read(name: string) {
    return this.#call(() => this.#inner.read(name));
  }
  subscribe(name: string, listener: (event: LeaseEvent) => void) {
    return this.#inner.subscribe(name, (e) => {
      if (!this.#severed) listener(e);
    });
  }
  close() {
    return Promise.resolve();
  }
}
