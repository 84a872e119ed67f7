import { afterEach, describe, expect, it, vi } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import type { ElectorOptions } from '../../src/election/options.js';
import { LockKeyConflictError, ReadOnlyReplicaError, StoppedError } from '../../src/errors.js';
import type { AcquireResult, LeaseStore, RenewResult } from '../../src/lock/lease-store.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import { OwnershipToken } from '../../src/lock/ownership-token.js';
import { checkEventLog, recordEvents } from '../helpers/event-log.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { ScriptedStore } from '../helpers/scripted-store.js';

// lease 1000, renew 250, drift 12: valid until t_send + 988.
const timing = { ttlMs: 1000, renewMs: 250, retryMs: 200, retryJitterMs: 0 };
const electors: Elector[] = [];
const clocks = new Set<FakeClock>();

function make(store: LeaseStore, clock: FakeClock, extra: Partial<ElectorOptions> = {}): Elector {
  const elector = new Elector({ store, clock, election: 'cron', ...timing, ...extra });
  electors.push(elector);
  clocks.add(clock);
  return elector;
}

afterEach(async () => {
  // stop() waits for an attempt in flight (at most requestTimeoutMs): let fake time pass.
  const stopping = Promise.all(electors.splice(0).map((e) => e.stop()));
  for (const clock of clocks) await clock.advance(5000);
  clocks.clear();
  await stopping;
});

describe('Elector on the memory store', () => {
  it('elects a single elector and keeps it leading across many lease periods', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore({ clock });
    const a = make(store, clock, { identity: 'a' });
    const log = recordEvents(a);
    await a.start();
    expect(a.isLeader).toBe(true);
    expect(a.state).toBe('leader');
    expect(a.leader).toMatchObject({ identity: 'a', isSelf: true, term: a.term });
    await clock.advance(20_000);
    expect(a.isLeader).toBe(true);
    expect(log.filter((e) => e.e === 'elected')).toHaveLength(1);
    expect(log.slice(0, 3)).toEqual([
      { e: 'state', from: 'follower', to: 'candidate' },
      { e: 'state', from: 'candidate', to: 'leader' },
      { e: 'elected', term: a.term },
    ]);
    expect(checkEventLog(log)).toEqual([]);
  });

  it('makes followers report the leader, and hands over at once on stop()', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore({ clock });
    const a = make(store, clock, { identity: 'a', data: { url: 'http://a' } });
    await a.start();
    const b = make(store, clock, { identity: 'b' });
    const c = make(store, clock, { identity: 'c' });
    await Promise.all([b.start(), c.start()]);
    expect(b.isLeader || c.isLeader).toBe(false);
    expect(b.leader).toMatchObject({ identity: 'a', isSelf: false, data: { url: 'http://a' } });
    const termA = a.term as number;
    const revoked = vi.fn();
    a.on('revoked', revoked);
    await a.stop();
    expect(revoked).toHaveBeenCalledWith({ term: termA, reason: 'stopped' });
    await settle();
    await settle();
    // No clock advance: the release notification woke the followers.
    const leaders = [b, c].filter((e) => e.isLeader);
    expect(leaders).toHaveLength(1);
    expect(leaders[0]?.term).toBeGreaterThan(termA);
    expect(a.state).toBe('stopped');
  });

  it('fails over after a crashed leader at its expiry, not before', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore({ clock });
    const r = await store.acquire({
      name: 'cron',
      token: OwnershipToken.generate(),
      ttlMs: 1000,
      identity: 'crashed',
      data: '',
    });
    expect(r.acquired).toBe(true);
    const b = make(store, clock, { identity: 'b', retryJitterMs: 20 });
    await b.start();
    expect(b.leader?.identity).toBe('crashed');
    await clock.advance(995);
    expect(b.isLeader).toBe(false);
    await clock.advance(30);
    expect(b.isLeader).toBe(true);
  });

  it('costs an idle follower about one store call per lease period', async () => {
    const clock = new FakeClock();
    const memory = new MemoryLeaseStore({ clock });
    let calls = 0;
    const counting: LeaseStore = {
      kind: 'counting',
      acquire: (r) => (calls++, memory.acquire(r)),
      renew: (l, t) => memory.renew(l, t),
      release: (l) => memory.release(l),
      read: (n) => (calls++, memory.read(n)),
      subscribe: (n, l) => memory.subscribe(n, l),
      close: () => memory.close(),
    };
    const leader = make(memory, clock, { identity: 'leader' });
    await leader.start();
    const follower = make(counting, clock, { identity: 'follower' });
    await follower.start();
    calls = 0;
    await clock.advance(60_000);
    expect(leader.isLeader).toBe(true);
    // 60 lease periods; the follower wakes when the lease it last saw would expire.
    expect(calls).toBeGreaterThanOrEqual(60);
    expect(calls).toBeLessThanOrEqual(90);
  });

  it('resign() steps down, lets another lead, and keeps participating', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore({ clock });
    const a = make(store, clock, { identity: 'a' });
    const log = recordEvents(a);
    await a.start();
    const b = make(store, clock, { identity: 'b' });
    await b.start();
    expect(await a.resign()).toBe(true);
    expect(a.isLeader).toBe(false);
    await settle();
    await settle();
    expect(b.isLeader).toBe(true);
    expect(log).toContainEqual(expect.objectContaining({ e: 'revoked', reason: 'released' }));
    expect(await a.resign()).toBe(false);
    await clock.advance(2000);
    expect(a.state).toBe('follower');
    expect(a.leader?.identity).toBe('b');
    await b.stop();
    await settle();
    await settle();
    expect(a.isLeader).toBe(true);
    expect(checkEventLog(log)).toEqual([]);
  });

  it('observe mode reports every change including vacancy and never campaigns', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore({ clock });
    const observer = make(store, clock, { identity: 'o', campaign: false });
    const seen: (string | null)[] = [];
    observer.on('leader', (l) => seen.push(l?.identity ?? null));
    await observer.start();
    expect(observer.leader).toBeNull();
    const a = make(store, clock, { identity: 'a' });
    await a.start();
    await settle();
    expect(seen).toEqual(['a']);
    await a.stop();
    await settle();
    await settle();
    expect(seen).toEqual(['a', null]);
    await clock.advance(10_000);
    expect(observer.isLeader).toBe(false);
    expect(observer.state).toBe('follower');
    expect(observer.history.map((h) => [h.identity, h.reason])).toEqual([['a', 'vacated']]);
  });

  it('runWhileLeader runs the task on each election with a signal that aborts on loss', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore({ clock });
    const a = make(store, clock, { identity: 'a' });
    const runs: { term: number; signal: AbortSignal }[] = [];
    a.runWhileLeader((signal, term) => {
      runs.push({ signal, term });
    });
    await a.start();
    expect(runs).toHaveLength(1);
    await a.resign();
    expect(runs[0]?.signal.aborted).toBe(true);
    await clock.advance(300); // sits out retryMs, then campaigns again
    expect(a.isLeader).toBe(true);
    expect(runs).toHaveLength(2);
    expect(runs[1]?.term).toBeGreaterThan(runs[0]?.term as number);
  });

  it('waitForLeadership resolves when elected and rejects on stop or abort', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore({ clock });
    const a = make(store, clock, { identity: 'a' });
    await a.start();
    const b = make(store, clock, { identity: 'b' });
    await b.start();
    const controller = new AbortController();
    const aborted = b.waitForLeadership({ signal: controller.signal });
    controller.abort(new Error('gave up'));
    await expect(aborted).rejects.toThrow('gave up');
    const waiting = b.waitForLeadership();
    await a.stop();
    await expect(waiting).resolves.toMatchObject({ term: b.term });
    await expect(b.waitForLeadership()).resolves.toMatchObject({ term: b.term });
    const c = make(store, clock, { identity: 'c' });
    await c.start();
    const never = c.waitForLeadership();
    await c.stop();
    await expect(never).rejects.toBeInstanceOf(StoppedError);
  });

  it('catches listener and task failures, reports them, and keeps leading', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore({ clock });
    const a = make(store, clock, { identity: 'a' });
    const errors: string[] = [];
    a.on('error', (e) => errors.push(e.message));
    a.on('elected', () => {
      throw new Error('listener threw');
    });
    a.on('state', () => Promise.reject(new Error('async listener rejected')));
    a.runWhileLeader(() => Promise.reject(new Error('task failed')));
    await a.start();
    await clock.advance(5000);
    expect(a.isLeader).toBe(true);
    expect(errors).toEqual(
      expect.arrayContaining(['listener threw', 'async listener rejected', 'task failed']),
    );
  });

  it('without an error listener or logger, warns once per error code instead of throwing', async () => {
    const clock = new FakeClock();
    const store = new ScriptedStore();
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const a = make(store, clock, { identity: 'a' });
      const started = a.start();
      await settle();
      store.pending('acquire').reject(new LockKeyConflictError('{tenure:cron}:lease', 'list', 'x'));
      await started;
      await clock.advance(200);
      store.pending('acquire').reject(new LockKeyConflictError('{tenure:cron}:lease', 'list', 'x'));
      await settle();
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toContain('TENURE_KEY_CONFLICT');
    } finally {
      warn.mockRestore();
    }
  });

  it('is idempotent to start and stop, refuses start after stop, and leaves no timer', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore({ clock });
    const a = make(store, clock);
    expect(a.start()).toBe(a.start());
    await a.start();
    const stopping = a.stop();
    expect(a.stop()).toBe(stopping);
    await stopping;
    expect(a.state).toBe('stopped');
    await expect(a.start()).rejects.toBeInstanceOf(StoppedError);
    expect(clock.pending).toBe(0);
    expect(await store.read('cron')).toBeNull();
    const never = make(store, clock);
    await never.stop();
    expect(never.state).toBe('stopped');
    await expect(never.start()).rejects.toBeInstanceOf(StoppedError);
  });
});

describe('Elector with a scripted store', () => {
  async function electedWithScript() {
    const clock = new FakeClock();
    const store = new ScriptedStore();
    const a = make(store, clock, { identity: 'a' });
    const log = recordEvents(a);
    const started = a.start();
    await settle();
    store.pending<AcquireResult>('acquire').resolve({ acquired: true, term: 10 });
    await started;
    expect(a.isLeader).toBe(true);
    return { clock, store, a, log };
  }

  it('is not leader on wake-up after a stall, then revokes with reason deadline exactly once', async () => {
    const { clock, store, a, log } = await electedWithScript();
    await clock.advance(250);
    const renew = store.pending<RenewResult>('renew');
    clock.jump(2000); // SIGSTOP for 2 × lease
    expect(a.isLeader).toBe(false);
    expect(a.term).toBeNull();
    renew.resolve('renewed'); // the late reply
    await clock.advance(1);
    expect(log.filter((e) => e.e === 'revoked')).toEqual([
      { e: 'revoked', term: 10, reason: 'deadline' },
    ]);
    expect(a.isLeader).toBe(false);
    expect(checkEventLog(log)).toEqual([]);
  });

  it('steps down at once on READONLY with reason refused', async () => {
    const { clock, store, a, log } = await electedWithScript();
    await clock.advance(250);
    store.pending('renew').reject(new ReadOnlyReplicaError('READONLY'));
    await settle();
    expect(a.isLeader).toBe(false);
    expect(log).toContainEqual({ e: 'revoked', term: 10, reason: 'refused' });
  });

  it('steps down at once when the store says the lease was stolen', async () => {
    const { clock, store, a, log } = await electedWithScript();
    await clock.advance(250);
    store.pending<RenewResult>('renew').resolve('stolen');
    await settle();
    expect(a.isLeader).toBe(false);
    expect(log).toContainEqual({ e: 'revoked', term: 10, reason: 'lost' });
  });

  it('releases a grant that arrives after stop() and emits no elected', async () => {
    const clock = new FakeClock();
    const store = new ScriptedStore();
    const a = make(store, clock);
    const elected = vi.fn();
    a.on('elected', elected);
    void a.start();
    await settle();
    const acquire = store.pending<AcquireResult>('acquire');
    let done = false;
    const stopped = a.stop().then(() => (done = true));
    acquire.resolve({ acquired: true, term: 4 });
    for (let i = 0; i < 5; i++) await settle();
    expect(store.of('release')).toHaveLength(1);
    expect((store.of('release')[0]?.args[0] as { term: number }).term).toBe(4);
    // stop() waits for that release: a client closed right after it would drop it.
    expect(done).toBe(false);
    store.pending<boolean>('release').resolve(true);
    await stopped;
    expect(elected).not.toHaveBeenCalled();
  });

  it('backs off exponentially on a foreign key instead of spinning', async () => {
    const clock = new FakeClock();
    const store = new ScriptedStore();
    const a = make(store, clock, { retryMs: 100 });
    a.on('error', () => undefined);
    const started = a.start();
    await settle();
    const conflict = () => new LockKeyConflictError('{tenure:cron}:lease', 'hash', 'x');
    store.pending('acquire').reject(conflict());
    await started;
    for (let i = 0; i < 20; i++) {
      await clock.advance(100);
      for (const c of store.of('acquire')) if (!c.settled) c.reject(conflict());
    }
    // 2 s at retryMs 100 would be 20 attempts without backoff: 100, 200, 400, 800 → 5.
    expect(store.of('acquire').length).toBeLessThanOrEqual(5);
    expect(store.of('acquire').length).toBeGreaterThanOrEqual(4);
  });
});
