/**
 * attemptAcquire's handling of a reply that arrives after the request timed
 * out: a late grant under the attempt's own token is handed back at once; a
 * late "already granted to this ticket under an earlier token" (a FIFO
 * store's direct grant) is left alone, because the call may hold that very
 * lease by now (an independent review found a resent request answering this
 * way after a reconnect, and the hand-back freed a lock its caller still held).
 */
import { describe, expect, it } from 'vitest';
import { attemptAcquire } from '../../src/lock/acquire.js';
import type { AcquireResult, LeaseRef, LeaseStore } from '../../src/lock/lease-store.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';

const timing = { ttlMs: 1000, renewMs: 300, renewRetryMs: 100, requestTimeoutMs: 100, driftMs: 10 };

function lateStore(
  clock: FakeClock,
  reply: AcquireResult,
): { store: LeaseStore; released: LeaseRef[] } {
  const released: LeaseRef[] = [];
  const store = {
    kind: 'late',
    acquire: () =>
      new Promise<AcquireResult>((resolve) => clock.setTimeout(() => resolve(reply), 500)),
    renew: () => Promise.resolve('renewed' as const),
    release: (lease: LeaseRef) => {
      released.push(lease);
      return Promise.resolve(true);
    },
    read: () => Promise.resolve(null),
    subscribe: () => Promise.resolve(() => undefined),
    close: () => Promise.resolve(),
  } satisfies LeaseStore;
  return { store, released };
}

describe('attemptAcquire: replies after the request timed out', () => {
  it('hands back a late grant under its own token', async () => {
    const clock = new FakeClock();
    const { store, released } = lateStore(clock, { acquired: true, term: 7 });
    const attempt = attemptAcquire(store, clock, { name: 'n', identity: 'i', data: '', timing });
    const outcome = expect(attempt).rejects.toThrow();
    await clock.advance(100);
    await outcome;
    await clock.advance(500);
    await settle();
    expect(released.map((l) => l.term)).toEqual([7]);
  });

  it('leaves alone a late "granted earlier under another token" reply', async () => {
    const clock = new FakeClock();
    const { store, released } = lateStore(clock, {
      acquired: true,
      term: 7,
      grantedTokenSha1: 'a'.repeat(40),
    });
    const attempt = attemptAcquire(store, clock, {
      name: 'n',
      identity: 'i',
      data: '',
      timing,
      ticket: 't',
    });
    const outcome = expect(attempt).rejects.toThrow();
    await clock.advance(100);
    await outcome;
    await clock.advance(500);
    await settle();
    expect(released).toEqual([]);
  });
});
