/**
 * Claim 7: "Locker.lock({signal}) rejects promptly on abort in every waiting phase"
 * (README: "An aborted call rejects with your signal's reason, as fetch does").
 * The acquire round trip is not raced against the signal: lock() waits for it (up to
 * requestTimeoutMs, default renewMs = ttlMs/3), and a grant that arrives after the abort is
 * returned as a Lock instead of a rejection.
 */
import { describe, expect, it } from 'vitest';
import type { AcquireResult } from '../../src/lock/lease-store.js';
import { Locker } from '../../src/lock/locker.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { ScriptedStore } from '../helpers/scripted-store.js';

function setup() {
  const clock = new FakeClock();
  const store = new ScriptedStore(() => clock.now());
  const locker = new Locker(store, { clock, identity: 'me' });
  return { clock, store, locker };
}

describe('lock() aborted while an acquire is in flight', () => {
  it('rejects with the reason without waiting for the store', async () => {
    const { store, locker } = setup();
    const controller = new AbortController();
    let outcome = 'pending';
    const locking = locker.lock('a', { ttlMs: 30_000, signal: controller.signal }).then(
      () => (outcome = 'resolved'),
      (e: unknown) =>
        (outcome = e === controller.signal.reason ? 'rejected(reason)' : `rejected(${String(e)})`),
    );
    await settle();
    expect(store.of('acquire')).toHaveLength(1);
    controller.abort();
    for (let i = 0; i < 5; i++) await settle();
    expect(outcome, 'after abort, with the acquire still in flight (timeout 10 s)').toBe(
      'rejected(reason)',
    );
    store
      .pending<AcquireResult>('acquire')
      .resolve({ acquired: false, holder: null, reservedMs: 10 });
    await locking;
  });

  it('a grant that answers after the abort is not handed to the caller', async () => {
    const { store, locker } = setup();
    const controller = new AbortController();
    const locking = locker.lock('a', { ttlMs: 30_000, signal: controller.signal });
    await settle();
    controller.abort();
    store.pending<AcquireResult>('acquire').resolve({ acquired: true, term: 7 });
    const result = await locking.then(
      (lock) => {
        void lock.release();
        return `resolved with a Lock (term ${lock.term})`;
      },
      () => 'rejected',
    );
    expect(result).toBe('rejected');
  });
});

describe('settled(): what an abort left in flight is finished before the client closes', () => {
  it('waits for the abandoned acquire and for the release of its late grant', async () => {
    const { store, locker } = setup();
    const controller = new AbortController();
    const locking = locker.lock('a', { ttlMs: 30_000, signal: controller.signal });
    await settle();
    controller.abort();
    await locking.catch(() => undefined);
    let done = false;
    const settling = locker.settled().then(() => (done = true));
    await settle();
    expect(done, 'the acquire is still in flight').toBe(false);
    store.pending<AcquireResult>('acquire').resolve({ acquired: true, term: 7 });
    for (let i = 0; i < 5; i++) await settle();
    expect(store.of('release'), 'the late grant is handed back').toHaveLength(1);
    expect(done, 'the release is still in flight').toBe(false);
    store.pending<boolean>('release').resolve(true);
    await settling;
    expect(done).toBe(true);
  });

  it('resolves at once when nothing was abandoned, and after a late refusal', async () => {
    const { store, locker } = setup();
    await locker.settled();
    const controller = new AbortController();
    const locking = locker.lock('a', { ttlMs: 30_000, signal: controller.signal });
    await settle();
    controller.abort();
    await locking.catch(() => undefined);
    const settling = locker.settled();
    store
      .pending<AcquireResult>('acquire')
      .resolve({ acquired: false, holder: null, reservedMs: 10 });
    await settling;
    expect(store.of('release')).toHaveLength(0);
  });
});
