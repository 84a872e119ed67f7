/**
 * User code calling back into the elector (issue 10, item 1) and user hooks
 * that throw (item 2). Each case hung, reordered events or disabled
 * step-down before leadership became one object per term with events
 * delivered after each transition is committed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import type { ElectorOptions } from '../../src/election/options.js';
import { StoreUnavailableError } from '../../src/errors.js';
import type { LeaseStore, Unsubscribe } from '../../src/lock/lease-store.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import {
  ELECTION_METRICS_METHODS,
  type ElectionMetrics,
  type MetricsProvider,
  noopMetrics,
} from '../../src/metrics/types.js';
import { checkEventLog, type Logged, recordEvents } from '../helpers/event-log.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';

const timing = { ttlMs: 1000, renewMs: 250, retryMs: 200, retryJitterMs: 0 };
const cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

// A throwing logger is reported once per elector as a process warning: expected here.
const emitWarning = process.emitWarning.bind(process);
beforeAll(() => {
  process.emitWarning = () => undefined;
});
afterAll(() => {
  process.emitWarning = emitWarning;
});

/** A memory store that counts live subscriptions and can fail acquire and renew on demand. */
function setup(extra: Partial<ElectorOptions> = {}) {
  const clock = new FakeClock();
  const memory = new MemoryLeaseStore({ clock });
  let live = 0;
  const faults = { down: false };
  const down = (): Promise<never> =>
    Promise.reject(new StoreUnavailableError('Connection is closed.', { ambiguous: true }));
  const store: LeaseStore = {
    kind: 'test',
    acquire: (r) => (faults.down ? down() : memory.acquire(r)),
    renew: (l, t) => (faults.down ? down() : memory.renew(l, t)),
    release: (l) => memory.release(l),
    read: (n) => memory.read(n),
    subscribe: async (n, l): Promise<Unsubscribe> => {
      const off = await memory.subscribe(n, l);
      live++;
      return () => {
        live--;
        off();
      };
    },
    close: () => memory.close(),
  };
  const elector = new Elector({ store, clock, election: 'e', identity: 'a', ...timing, ...extra });
  const errors: unknown[] = [];
  elector.on('error', (e) => errors.push(e));
  const log = recordEvents(elector);
  cleanup.push(async () => {
    const stopping = elector.stop();
    await clock.advance(5000);
    await stopping;
  });
  return { clock, memory, store, elector, log, errors, faults, subscriptions: () => live };
}

/** stop() must settle without any time passing (nothing to wait for on a memory store). */
async function stopsPromptly(elector: Elector): Promise<void> {
  let stopped = false;
  void elector.stop().then(() => (stopped = true));
  for (let i = 0; i < 20 && !stopped; i++) await settle();
  expect(stopped, 'stop() settled').toBe(true);
}

const electedThenRevoked = (log: Logged[]): string[] =>
  log.filter((e) => e.e === 'elected' || e.e === 'revoked').map((e) => `${e.e} ${e.term}`);

describe('Elector: public methods called from user code', () => {
  it('resign() from an elected listener: leader is not self, it campaigns again, stop() settles', async () => {
    const { clock, elector, log, subscriptions } = setup();
    let once = true;
    elector.on('elected', () => {
      if (once) void elector.resign();
      once = false;
    });
    await elector.start();
    await settle();
    expect(elector.isLeader).toBe(false);
    expect(elector.state).toBe('follower');
    expect(elector.leader).toBeNull();
    const first = log.find((e) => e.e === 'elected');
    expect(electedThenRevoked(log)).toEqual([
      `elected ${first?.e === 'elected' ? first.term : 0}`,
      `revoked ${first?.e === 'elected' ? first.term : 0}`,
    ]);
    await clock.advance(300); // sits out retryMs, then campaigns again
    expect(elector.isLeader).toBe(true);
    expect(elector.leader).toMatchObject({ isSelf: true, term: elector.term });
    expect(checkEventLog(log)).toEqual([]);
    await stopsPromptly(elector);
    expect(elector.state).toBe('stopped');
    expect(subscriptions()).toBe(0);
  });

  it('stop() from an elected listener settles, releases and unsubscribes', async () => {
    const { elector, log, memory, subscriptions } = setup();
    let stopping: Promise<void> | undefined;
    elector.on('elected', () => {
      stopping = elector.stop();
    });
    await elector.start();
    for (let i = 0; i < 10; i++) await settle();
    expect(stopping).toBeDefined();
    let done = false;
    void stopping?.then(() => (done = true));
    for (let i = 0; i < 10 && !done; i++) await settle();
    expect(done).toBe(true);
    expect(elector.state).toBe('stopped');
    expect(elector.leader).toBeNull();
    expect(await memory.read('e')).toBeNull();
    expect(subscriptions()).toBe(0);
    expect(checkEventLog(log)).toEqual([]);
    expect(log.filter((e) => e.e === 'revoked')).toEqual([
      expect.objectContaining({ reason: 'stopped' }),
    ]);
  });

  it('resign() from a state listener: elected T comes before revoked T', async () => {
    const { elector, log } = setup();
    let once = true;
    elector.on('state', ({ to }) => {
      if (to === 'leader' && once) {
        once = false;
        void elector.resign();
      }
    });
    await elector.start();
    await settle();
    const terms = electedThenRevoked(log);
    expect(terms).toHaveLength(2);
    expect(terms[0]?.startsWith('elected')).toBe(true);
    expect(terms[1]?.startsWith('revoked')).toBe(true);
    expect(checkEventLog(log)).toEqual([]);
    expect(elector.leader).toBeNull();
  });

  it('resign() and stop() from the synchronous start of a runWhileLeader task', async () => {
    for (const call of ['resign', 'stop'] as const) {
      const { clock, elector, log, subscriptions } = setup();
      const signals: AbortSignal[] = [];
      elector.runWhileLeader((signal) => {
        signals.push(signal);
        if (signals.length === 1) void elector[call]();
      });
      await elector.start();
      await settle();
      expect(signals[0]?.aborted).toBe(true);
      expect(elector.leader).toBeNull();
      if (call === 'resign') {
        await clock.advance(300);
        expect(elector.isLeader).toBe(true);
        expect(signals).toHaveLength(2);
      }
      await stopsPromptly(elector);
      expect(subscriptions()).toBe(0);
      expect(checkEventLog(log)).toEqual([]);
    }
  });

  it('resign() right after await waitForLeadership() lets the elector campaign again', async () => {
    const { clock, elector, log } = setup();
    const first = elector.waitForLeadership();
    void elector.start();
    const { term, signal } = await first;
    expect(await elector.resign()).toBe(true);
    expect(signal.aborted).toBe(true);
    expect(elector.leader).toBeNull();
    await clock.advance(300);
    expect(elector.isLeader).toBe(true);
    expect(elector.term).toBeGreaterThan(term);
    expect(checkEventLog(log)).toEqual([]);
    await stopsPromptly(elector);
  });

  it('waitForLeadership() skips a term that a listener already ended', async () => {
    const { clock, elector } = setup();
    let once = true;
    elector.on('elected', () => {
      if (once) void elector.resign();
      once = false;
    });
    const waiting = elector.waitForLeadership();
    await elector.start();
    await clock.advance(300);
    const event = await waiting;
    expect(event.signal.aborted).toBe(false);
    expect(event.term).toBe(elector.term);
  });

  it('start() from a listener after stop() rejects; stop() twice from listeners is one stop', async () => {
    const { elector, errors } = setup();
    const results: string[] = [];
    elector.on('revoked', () => {
      void elector.stop().then(() => results.push('stop'));
      elector.start().then(
        () => results.push('started'),
        (e: Error) => results.push(e.name),
      );
    });
    await elector.start();
    await stopsPromptly(elector);
    for (let i = 0; i < 5; i++) await settle();
    expect(results.sort()).toEqual(['StoppedError', 'stop']);
    expect(errors).toEqual([]);
  });
});

describe('Elector: user hooks that throw', () => {
  const throwing = (method: keyof ElectionMetrics): MetricsProvider => ({
    forElector: () => {
      const sink: ElectionMetrics = { ...noopMetrics };
      sink[method] = () => {
        throw new Error(`metrics ${method} broke`);
      };
      return sink;
    },
  });

  it('a metrics renewed() that throws neither stops renewals nor disables step-down', async () => {
    const { clock, elector, errors, faults, log } = setup({ metrics: throwing('renewed') });
    await elector.start();
    const term = elector.term;
    await clock.advance(3000); // a dozen renewals, each hook call throws
    expect(elector.isLeader).toBe(true);
    expect(elector.term).toBe(term);
    expect(errors.some((e) => (e as Error).message === 'metrics renewed broke')).toBe(true);
    const { signal } = await elector.waitForLeadership();
    faults.down = true; // renewals now fail: it must step down by its deadline
    await clock.advance(1000);
    expect(elector.isLeader).toBe(false);
    expect(elector.state).toBe('follower');
    expect(signal.aborted).toBe(true);
    expect(log).toContainEqual({ e: 'revoked', term: term as number, reason: 'deadline' });
  });

  it('every metrics method and every logger level may throw: the elector still elects, steps down and stops', async () => {
    for (const method of ELECTION_METRICS_METHODS) {
      const broken = (): void => {
        throw new Error('logger broke');
      };
      const logger = { debug: broken, info: broken, warn: broken, error: broken };
      const { clock, elector, faults, log } = setup({ metrics: throwing(method), logger });
      await elector.start();
      expect(elector.isLeader, method).toBe(true);
      faults.down = true;
      await clock.advance(1500);
      expect(elector.isLeader, method).toBe(false);
      expect(log.filter((e) => e.e === 'revoked').length, method).toBeGreaterThanOrEqual(1);
      faults.down = false;
      await clock.advance(500);
      await stopsPromptly(elector);
      expect(checkEventLog(log), method).toEqual([]);
    }
  });

  it('listeners and tasks that throw or reject are reported and isolated', async () => {
    const { clock, elector, errors } = setup();
    elector.on('elected', () => {
      throw new Error('listener threw');
    });
    elector.on('state', () => Promise.reject(new Error('listener rejected')));
    elector.runWhileLeader(() => {
      throw new Error('task threw');
    });
    elector.runWhileLeader(() => Promise.reject(new Error('task rejected')));
    await elector.start();
    await clock.advance(10);
    expect(elector.isLeader).toBe(true);
    const messages = errors.map((e) => (e as Error).message);
    for (const m of ['listener threw', 'listener rejected', 'task threw', 'task rejected'])
      expect(messages).toContain(m);
  });
});
