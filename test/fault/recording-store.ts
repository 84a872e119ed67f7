/**
 * A LeaseStore wrapper that records every request as it is handed to the
 * store (`*_send`) and every answer (`*_reply`), with hrtime stamps. The
 * elector reads its monotonic clock for t_send in the same synchronous step,
 * so the recorded send time is at most microseconds later than the
 * elector's: containment checked against it is never stricter than the truth.
 */
import type { AcquireRequest, LeaseEvent, LeaseRef, LeaseStore } from '../../src/index.js';
import type { Recorder } from './recorder.js';

export class RecordingStore implements LeaseStore {
  readonly kind: string;
  readonly announcesExpiry: boolean;
  readonly #inner: LeaseStore;
  readonly #rec: Recorder;
  #requests = 0;
  /** Called after each confirmed renewal has been processed (to record the new deadline). */
  onRenewed: (term: number) => void = () => undefined;

  constructor(inner: LeaseStore, recorder: Recorder) {
    this.#inner = inner;
    this.#rec = recorder;
    this.kind = inner.kind;
    this.announcesExpiry = inner.announcesExpiry === true;
  }

  async acquire(request: AcquireRequest) {
    const req = ++this.#requests;
    this.#rec.write({ ev: 'acquire_send', req });
    try {
      const r = await this.#inner.acquire(request);
      this.#rec.write(
        r.acquired
          ? { ev: 'acquire_reply', req, result: 'ok', term: r.term }
          : { ev: 'acquire_reply', req, result: 'held', term: r.holder?.term ?? null },
      );
      return r;
    } catch (error) {
      this.#rec.write({
        ev: 'acquire_reply',
        req,
        result: 'error',
        err: (error as { code?: string }).code ?? String(error),
      });
      throw error;
    }
  }

  async renew(lease: LeaseRef, ttlMs: number) {
    const req = ++this.#requests;
    this.#rec.write({ ev: 'renew_send', req, term: lease.term });
    try {
      const r = await this.#inner.renew(lease, ttlMs);
      this.#rec.write({
        ev: 'renew_reply',
        req,
        term: lease.term,
        result: r === 'renewed' ? 'ok' : 'lost',
      });
      if (r === 'renewed') setImmediate(() => this.onRenewed(lease.term));
      return r;
    } catch (error) {
      this.#rec.write({
        ev: 'renew_reply',
        req,
        term: lease.term,
        result: 'error',
        err: (error as { code?: string }).code ?? String(error),
      });
      throw error;
    }
  }

  release(lease: LeaseRef) {
    return this.#inner.release(lease);
  }
  read(name: string) {
    return this.#inner.read(name);
  }
  subscribe(name: string, listener: (event: LeaseEvent) => void) {
    return this.#inner.subscribe(name, listener);
  }
  close() {
    return this.#inner.close();
  }
  /** The elector logs these at start (a process warning in the worker's stderr). */
  async diagnose(): Promise<string[]> {
    return (await this.#inner.diagnose?.()) ?? [];
  }
}
