import { describe, expect, it, vi } from 'vitest';
import type { LockLostError } from '../../src/errors.js';
import { ReadOnlyReplicaError, StoreUnavailableError } from '../../src/errors.js';
import { LeaseKeeper, type LeaseTiming } from '../../src/lock/lease-keeper.js';
import type { RenewResult } from '../../src/lock/lease-store.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import { classifyRedisError } from '../../src/lock/redis/classify-error.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { ScriptedStore } from '../helpers/scripted-store.js';

// ttl 1000, drift 12: a lease acquired with t_send = T is valid until T + 988.
const timing: LeaseTiming = {
  ttlMs: 1000,
  driftMs: 12,
  renewMs: 250,
  renewRetryMs: 100,
  requestTimeoutMs: 200,
};

function setup() {
  const clock = new FakeClock();
  const store = new ScriptedStore();
  const lease = { name: 'job', token: OwnershipToken.generate(), term: 7 };
  const lost: LockLostError[] = [];
  const failures: unknown[] = [];
  const sentAt = clock.now();
  const keeper = new LeaseKeeper(store, clock, lease, timing, sentAt, {
    onLost: (e) => lost.push(e),
    onRenewFailed: (e) => failures.push(e),
  });
  return { clock, store, keeper, lost, failures, sentAt };
}

describe('LeaseKeeper deadline rule', () => {
  it('is valid until t_send + ttl − drift, measured from before the acquire was sent', async () => {
    const { clock, keeper, sentAt, lost } = setup();
    expect(keeper.deadline).toBe(sentAt + 988);
    await clock.advance(987);
    expect(keeper.valid).toBe(true);
    expect(keeper.remainingMs).toBe(1);
    await clock.advance(1);
    expect(keeper.valid).toBe(false);
    expect(keeper.remainingMs).toBe(0);
    expect(lost.map((e) => e.reason)).toEqual(['deadline']);
    expect(keeper.signal.aborted).toBe(true);
    expect((keeper.signal.reason as LockLostError).reason).toBe('deadline');
  });

  it('is invalid on wake-up after a stall, before any timer has run', () => {
    const { clock, keeper } = setup();
    clock.jump(2000); // SIGSTOP / blocked event loop: time passes, no timer fires
    expect(keeper.valid).toBe(false);
    expect(keeper.remainingMs).toBe(0);
    expect(keeper.signal.aborted).toBe(false); // the signal follows when timers run; `valid` does not wait
  });

  it('extends the deadline from the renew send time, not the reply time', async () => {
    const { clock, store, keeper, sentAt } = setup();
    await clock.advance(250);
    const renew = store.pending<RenewResult>('renew');
    await clock.advance(150); // reply takes 150 ms
    renew.resolve('renewed');
    await settle();
    expect(keeper.deadline).toBe(sentAt + 250 + 988);
  });

  it('ignores a renewal reply that arrives after the deadline it would establish', async () => {
    const { clock, store, keeper, lost } = setup();
    await clock.advance(250);
    const renew = store.pending<RenewResult>('renew');
    clock.jump(1000); // stalled past t_renew + 988 with the reply unread
    renew.resolve('renewed');
    await settle();
    expect(keeper.valid).toBe(false);
    expect(lost.map((e) => e.reason)).toEqual(['deadline']);
  });

  it('never resurrects: a success that lands after the lease was given up is released, not trusted', async () => {
    const { clock, store, keeper, lost } = setup();
    await clock.advance(250);
    const first = store.pending<RenewResult>('renew');
    await clock.advance(200); // request timeout: retried later
    await clock.advance(100);
    const second = store.of('renew')[1]!; // the first is still unanswered
    await clock.advance(500); // past the deadline (988) with renewals in flight
    expect(lost.map((e) => e.reason)).toEqual(['deadline']);
    const renewsAtStepDown = store.of('renew').length;
    first.resolve('renewed');
    second.resolve('renewed');
    for (const c of store.of('renew')) if (!c.settled) c.resolve('renewed');
    await clock.advance(2000);
    expect(keeper.valid).toBe(false);
    expect(store.of('release').length).toBeGreaterThanOrEqual(1);
    expect(store.of('renew')).toHaveLength(renewsAtStepDown); // no renewal after step-down
  });

  it('ends validity at once when the store says the lease is gone or stolen', async () => {
    for (const answer of ['expired', 'stolen'] as const) {
      const { clock, store, keeper, lost } = setup();
      await clock.advance(250);
      store.pending<RenewResult>('renew').resolve(answer);
      await settle();
      expect(keeper.valid).toBe(false);
      expect(lost.map((e) => e.reason)).toEqual(['lost']);
      expect(clock.pending).toBe(0);
    }
  });

  it('treats READONLY as a definite refusal: no retry, validity ends', async () => {
    const { clock, store, keeper, lost } = setup();
    await clock.advance(250);
    store.pending('renew').reject(new ReadOnlyReplicaError('READONLY'));
    await settle();
    expect(keeper.valid).toBe(false);
    expect(lost.map((e) => e.reason)).toEqual(['refused']);
    expect(lost[0]?.cause).toBeInstanceOf(ReadOnlyReplicaError);
  });

  it('retries an ambiguous failure and keeps validity until the deadline', async () => {
    const { clock, store, keeper, failures, sentAt } = setup();
    await clock.advance(250);
    store
      .pending('renew')
      .reject(new StoreUnavailableError('Connection is closed.', { ambiguous: true }));
    await settle();
    expect(keeper.valid).toBe(true);
    expect(failures).toHaveLength(1);
    await clock.advance(100);
    store.pending<RenewResult>('renew').resolve('renewed');
    await settle();
    expect(keeper.deadline).toBe(sentAt + 350 + 988);
  });

  it('retries a transient refusal (BUSY, LOADING, ...) until the deadline instead of ending validity', async () => {
    const { clock, store, keeper, lost, failures, sentAt } = setup();
    await clock.advance(250);
    const busy = classifyRedisError(
      new Error('BUSY Redis is busy running a script.'),
      'renew',
      '{tenure:job}:lease',
    );
    store.pending('renew').reject(busy);
    await settle();
    expect(keeper.valid).toBe(true);
    expect(lost).toEqual([]);
    expect(failures).toEqual([busy]);
    await clock.advance(100);
    store.pending<RenewResult>('renew').resolve('renewed');
    await settle();
    expect(keeper.deadline).toBe(sentAt + 350 + 988);
  });

  it('keeps renewing when its hooks throw', async () => {
    const clock = new FakeClock();
    const store = new ScriptedStore();
    const lease = { name: 'job', token: OwnershipToken.generate(), term: 7 };
    const boom = (): never => {
      throw new Error('hook broke');
    };
    const keeper = new LeaseKeeper(store, clock, lease, timing, clock.now(), {
      onRenewed: boom,
      onRenewFailed: boom,
      onLost: boom,
    });
    for (let i = 0; i < 4; i++) {
      await clock.advance(250);
      store.pending<RenewResult>('renew').resolve('renewed');
      await settle();
    }
    await clock.advance(250);
    store.pending('renew').reject(new StoreUnavailableError('closed', { ambiguous: true }));
    await settle();
    await clock.advance(1000); // no answer: it must still step down by its deadline
    expect(keeper.valid).toBe(false);
    expect(keeper.signal.aborted).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('times out a renewal that never answers and retries', async () => {
    const { clock, store, failures } = setup();
    await clock.advance(250);
    expect(store.of('renew')).toHaveLength(1);
    await clock.advance(200);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ code: 'TENURE_STORE_TIMEOUT' });
    await clock.advance(100);
    expect(store.of('renew')).toHaveLength(2);
  });

  it('release aborts the signal, waits for the renewal in flight, compare-and-deletes, and leaves no timer', async () => {
    const { clock, store, keeper, lost } = setup();
    await clock.advance(250);
    const renew = store.pending<RenewResult>('renew');
    const released = keeper.release();
    expect(keeper.signal.aborted).toBe(true);
    expect((keeper.signal.reason as LockLostError).reason).toBe('released');
    await settle();
    expect(store.of('release')).toHaveLength(0); // waits for the renewal
    renew.resolve('renewed');
    await settle();
    store.pending<boolean>('release').resolve(true);
    await expect(released).resolves.toBe(true);
    expect(keeper.release()).toBe(released);
    expect(keeper.valid).toBe(false);
    expect(lost).toHaveLength(0); // onLost is for losses, not releases
    await clock.advance(200);
    expect(clock.pending).toBe(0);
    expect(store.of('renew')).toHaveLength(1);
  });

  it('hands out the signal lazily with the same outcome: read before or after the end, aborted with the loss', async () => {
    const early = setup();
    const signal = early.keeper.signal; // read while valid
    expect(signal.aborted).toBe(false);
    await early.clock.advance(250);
    early.store.pending<RenewResult>('renew').resolve('stolen');
    await settle();
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(early.lost[0]); // the very error onLost received
    expect((signal.reason as LockLostError).reason).toBe('lost');

    const late = setup();
    await late.clock.advance(250);
    late.store.pending<RenewResult>('renew').resolve('expired');
    await settle();
    expect(late.lost.map((e) => e.reason)).toEqual(['lost']);
    const after = late.keeper.signal; // first read after the loss
    expect(after.aborted).toBe(true);
    expect(after.reason).toBe(late.lost[0]);

    const released = setup();
    const done = released.keeper.release();
    expect((released.keeper.signal.reason as LockLostError).reason).toBe('released');
    await settle();
    released.store.pending<boolean>('release').resolve(true);
    await expect(done).resolves.toBe(true);
  });

  it('keeps one timer armed while idle between renewals, and both while a renewal is in flight', async () => {
    const { clock, store } = setup();
    expect(clock.pending).toBe(1); // the renew timer; the deadline is later than the next renewal
    await clock.advance(250);
    expect(clock.pending).toBe(2); // deadline + the renewal's request timeout
    store.pending<RenewResult>('renew').resolve('renewed');
    await settle();
    expect(clock.pending).toBe(1); // the next renewal only
  });

  it('renews up to renewJitterMs early, at random, and measures the new deadline from that send', async () => {
    const clock = new FakeClock();
    const store = new ScriptedStore();
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.999);
    try {
      const lease = { name: 'job', token: OwnershipToken.generate(), term: 7 };
      const t0 = clock.now();
      const keeper = new LeaseKeeper(store, clock, lease, { ...timing, renewJitterMs: 40 }, t0);
      await clock.advance(209);
      expect(store.of('renew')).toHaveLength(0);
      await clock.advance(2);
      expect(store.of('renew')).toHaveLength(1); // at 250 − 0.999 × 40 ≈ 210, not 250
      store.pending<RenewResult>('renew').resolve('renewed');
      await settle();
      expect(keeper.deadline).toBeGreaterThanOrEqual(t0 + 210 + 988);
      expect(keeper.deadline).toBeLessThanOrEqual(t0 + 211 + 988);
      const released = keeper.release();
      await settle();
      store.pending<boolean>('release').resolve(true);
      await expect(released).resolves.toBe(true);
    } finally {
      random.mockRestore();
    }
  });
});
