/**
 * A LeaseStore whose every reply the test decides: each call is recorded and
 * stays pending until the test resolves or rejects it. Strict accounting:
 * tests assert on exactly which calls were made.
 */
import type {
  AcquireRequest,
  AcquireResult,
  LeaseHolder,
  LeaseRef,
  LeaseStore,
  RenewResult,
  Unsubscribe,
} from '../../src/lock/lease-store.js';

export interface Call<T = unknown> {
  readonly op: 'acquire' | 'renew' | 'release' | 'read';
  readonly args: unknown[];
  /** `now()` when the call was made (the send time), if the store was given a clock. */
  readonly at: number;
  settled: boolean;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export class ScriptedStore implements LeaseStore {
  readonly kind = 'scripted';
  readonly calls: Call[] = [];
  readonly #now: () => number;

  constructor(now: () => number = () => 0) {
    this.#now = now;
  }

  acquire(request: AcquireRequest): Promise<AcquireResult> {
    return this.#push('acquire', [request]);
  }
  renew(lease: LeaseRef, ttlMs: number): Promise<RenewResult> {
    return this.#push('renew', [lease, ttlMs]);
  }
  release(lease: LeaseRef): Promise<boolean> {
    return this.#push('release', [lease]);
  }
  read(name: string): Promise<LeaseHolder | null> {
    return this.#push('read', [name]);
  }
  subscribe(): Promise<Unsubscribe> {
    return Promise.resolve(() => undefined);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Calls of one kind, in order. */
  of(op: Call['op']): Call[] {
    return this.calls.filter((c) => c.op === op);
  }

  /** The single unsettled call of `op`; fails the test if there is not exactly one. */
  pending<T>(op: Call['op']): Call<T> {
    const open = this.of(op).filter((c) => !c.settled);
    if (open.length !== 1) throw new Error(`expected 1 pending ${op}, found ${open.length}`);
    return open[0] as Call<T>;
  }

  #push<T>(op: Call['op'], args: unknown[]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call: Call<T> = {
        op,
        args,
        at: this.#now(),
        settled: false,
        resolve: (v) => {
          call.settled = true;
          resolve(v);
        },
        reject: (e) => {
          call.settled = true;
          reject(e);
        },
      };
      this.calls.push(call);
    });
  }
}
