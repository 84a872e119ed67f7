/**
 * Claim 4: transient errors (BUSY etc., StoreUnavailableError with ambiguous false) during
 * renewals never end a lease early; READONLY does.
 */
import { describe, expect, it } from 'vitest';
import {
  NotEnoughReplicasError,
  ReadOnlyReplicaError,
  StoreError,
  StoreTimeoutError,
  StoreUnavailableError,
} from '../../src/errors.js';
import type { AcquireResult } from '../../src/lock/lease-store.js';
import { Locker } from '../../src/lock/locker.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { ScriptedStore } from '../helpers/scripted-store.js';

async function held() {
  const clock = new FakeClock();
  const store = new ScriptedStore(() => clock.now());
  const locker = new Locker(store, { clock });
  const locking = locker.lock('a', { ttlMs: 1000, renewMs: 250, retryMs: 50 });
  await settle();
  store.pending<AcquireResult>('acquire').resolve({ acquired: true, term: 1 });
  const lock = await locking;
  return { clock, store, lock };
}

/** Fails every renewal with `error` until just before the deadline, then lets one succeed. */
async function failRenewalsThenSucceed(error: () => unknown) {
  const { clock, store, lock } = await held();
  const deadline = 1000 + 1000 - 12;
  let failures = 0;
  while (clock.now() < deadline - 60) {
    await clock.advance(10);
    const open = store.of('renew').filter((c) => !c.settled);
    if (open[0]) {
      open[0].reject(error());
      failures++;
      await settle();
      if (!lock.isValid) break;
    }
  }
  const validBeforeDeadline = lock.isValid;
  // the next renewal succeeds
  for (let i = 0; i < 10 && store.of('renew').every((c) => c.settled); i++) await clock.advance(10);
  store
    .of('renew')
    .find((c) => !c.settled)
    ?.resolve('renewed');
  await settle();
  await clock.advance(100);
  const result = {
    failures: failures > 2,
    validBeforeDeadline,
    validAfterRetry: lock.isValid,
    reason: String((lock.signal.reason as Error | undefined)?.message ?? ''),
  };
  void lock.release();
  await settle();
  return result;
}

describe('renewal failures', () => {
  const transient: [string, () => unknown][] = [
    [
      'BUSY (StoreUnavailableError, ambiguous false)',
      () => new StoreUnavailableError('BUSY', { ambiguous: false }),
    ],
    [
      'connection lost (StoreUnavailableError, ambiguous)',
      () => new StoreUnavailableError('Connection is closed.', { ambiguous: true }),
    ],
    ['timeout', () => new StoreTimeoutError('renew', 250)],
    [
      'WAIT short (NotEnoughReplicasError, ambiguous)',
      () => new NotEnoughReplicasError('1 of 2', { ambiguous: true }),
    ],
    [
      'unknown reply (StoreError, ambiguous)',
      () => new StoreError('ERR something', { ambiguous: true }),
    ],
    ['a plain Error from a custom store', () => new Error('socket hang up')],
    // A custom store forwarding an optional field: `{ retryable: opts.retryable }` with opts.retryable undefined.
    [
      'StoreUnavailableError with retryable: undefined',
      () =>
        new StoreUnavailableError('LOADING', {
          ambiguous: false,
          retryable: undefined as unknown as boolean,
        }),
    ],
  ];
  for (const [name, error] of transient) {
    it(`${name}: the lock stays valid until the deadline and a later renewal succeeds`, async () => {
      const r = await failRenewalsThenSucceed(error);
      expect(r).toEqual({
        failures: true,
        validBeforeDeadline: true,
        validAfterRetry: true,
        reason: '',
      });
    });
  }

  it('READONLY ends the lease at once (refused)', async () => {
    const { clock, store, lock } = await held();
    await clock.advance(250);
    store
      .pending('renew')
      .reject(new ReadOnlyReplicaError("READONLY You can't write against a read only replica."));
    await settle();
    expect(lock.isValid).toBe(false);
    expect((lock.signal.reason as { reason: string }).reason).toBe('refused');
  });
});
