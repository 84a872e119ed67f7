/**
 * Claim 1: any public method from any listener / task / waitForLeadership continuation:
 * stop() settles, no subscription left, elected T before revoked T (one each), and
 * leader.isSelf is never true while this elector does not lead (after timers ran).
 * Adds what the shipped property test does not do: runWhileLeader / unregister / health /
 * getters from listeners and tasks, continuations of waitForLeadership, a memory store with
 * counted subscriptions, an observer elector in the same election, and isSelf checks.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import type { LeaseStore, Unsubscribe } from '../../src/lock/lease-store.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import { checkEventLog, recordEvents } from '../helpers/event-log.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { delegatingStore } from '../helpers/delegating-store.js';

type Action =
  | 'none'
  | 'resign'
  | 'stop'
  | 'start'
  | 'wait'
  | 'waitThenResign'
  | 'run'
  | 'unrun'
  | 'health'
  | 'getters';
const action = fc.constantFrom<Action>(
  'none',
  'none',
  'none',
  'resign',
  'resign',
  'stop',
  'start',
  'wait',
  'waitThenResign',
  'run',
  'unrun',
  'health',
  'getters',
);

let unhandled: unknown[] = [];
const reached = { runs: 0, elected: 0, released: 0, lost: 0 };
const onUnhandled = (r: unknown): void => void unhandled.push(r);
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => process.off('unhandledRejection', onUnhandled));

it(
  're-entrant user code keeps the invariants (memory store, 3 electors)',
  { timeout: 120_000 },
  async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.integer({ min: 1, max: 400 }), fc.constant(-1), fc.constant(-2)), {
          minLength: 5,
          maxLength: 30,
        }),
        fc.array(action, { minLength: 1, maxLength: 40 }),
        async (steps, actions) => {
          unhandled = [];
          const clock = new FakeClock();
          const memory = new MemoryLeaseStore({ clock });
          let live = 0;
          const store: LeaseStore = delegatingStore(memory, {
            subscribe: async (n, l): Promise<Unsubscribe> => {
              const off = await memory.subscribe(n, l);
              live++;
              let done = false;
              return () => {
                if (!done) live--;
                done = true;
                off();
              };
            },
          });
          const make = (identity: string, campaign = true) =>
            new Elector({
              store,
              clock,
              election: 'p',
              identity,
              campaign,
              ttlMs: 1000,
              renewMs: 250,
              retryMs: 200,
              retryJitterMs: 20,
            });
          const electors = [make('a'), make('b'), make('o', false)];
          const problems: string[] = [];
          const stops: Promise<void>[] = [];
          let next = 0;
          let registered = 0; // bounded: a task that registers a task that registers ... never ends
          const act = (e: Elector, where: string): void => {
            const a = actions[next++ % actions.length];
            if (a === 'resign') void e.resign();
            else if (a === 'stop') stops.push(e.stop());
            else if (a === 'start') e.start().catch(() => undefined);
            else if (a === 'wait') e.waitForLeadership().catch(() => undefined);
            else if (a === 'waitThenResign')
              e.waitForLeadership().then(
                () => e.resign(),
                () => undefined,
              );
            else if (a === 'run' && registered++ < 6) {
              const un = e.runWhileLeader((signal) => {
                act(e, 'task');
                if (actions[next % actions.length] === 'unrun') un();
                return new Promise<void>((resolve) =>
                  signal.addEventListener('abort', () => resolve(), { once: true }),
                );
              });
            } else if (a === 'health') e.health();
            else if (a === 'getters')
              void [e.isLeader, e.term, e.leader, e.remainingMs, e.deadline, e.state, e.history];
            void where;
          };
          const logs = electors.map((e) => {
            const log = recordEvents(e);
            for (const ev of ['elected', 'revoked', 'leader', 'state', 'error'] as const)
              e.on(ev, () => act(e, ev));
            return log;
          });
          for (const e of electors) void e.start().catch(() => undefined);
          const check = (label: string): void => {
            for (const [i, e] of electors.entries()) {
              const p = checkEventLog(logs[i] ?? []);
              if (p.length) problems.push(`${label} ${e.identity}: ${p.join('; ')}`);
              if (e.leader?.isSelf && !e.isLeader)
                problems.push(`${label} ${e.identity}: leader.isSelf but not leading`);
              if (e.isLeader && e.state !== 'leader')
                problems.push(`${label} ${e.identity}: isLeader but state ${e.state}`);
            }
            const leaders = electors.filter((e) => e.isLeader);
            if (leaders.length > 1) problems.push(`${label}: two leaders`);
          };
          for (const [i, s] of steps.entries()) {
            if (s === -1) void electors[i % 2]?.resign();
            else if (s === -2) stops.push(electors[i % 3]!.stop());
            else await clock.advance(s);
            await settle();
            check(`step ${i}`);
          }
          for (const e of electors) stops.push(e.stop());
          let settled = false;
          void Promise.all(stops).then(() => (settled = true));
          for (let i = 0; i < 10 && !settled; i++) await clock.advance(500);
          if (!settled) problems.push('stop() did not settle');
          check('after stop');
          for (const e of electors) {
            if (e.state !== 'stopped') problems.push(`${e.identity}: state ${e.state} after stop`);
            if (e.leader?.isSelf) problems.push(`${e.identity}: leader.isSelf after stop`);
          }
          if (live !== 0) problems.push(`${live} subscription(s) left after stop`);
          await settle();
          if (unhandled.length) problems.push(`unhandled: ${String(unhandled[0])}`);
          reached.runs++;
          if (logs.some((l) => l.some((x) => x.e === 'elected'))) reached.elected++;
          if (logs.some((l) => l.some((x) => x.e === 'revoked' && x.reason === 'released')))
            reached.released++;
          expect(problems).toEqual([]);
        },
      ),
      { numRuns: 400 },
    );
    expect(reached.elected / reached.runs).toBeGreaterThan(0.5);
  },
);
