/**
 * Model-based property test of the elector under user code (issue 10): the
 * commands of elector.property.test.ts (time, stalls, store replies in any
 * order, resign, stop) plus, from inside every listener and leader task, a
 * random user action: resign, stop, start, waitForLeadership, throw,
 * reject, or nothing; metrics hooks and logger levels that throw; and a
 * store whose subscribe works, hangs, fails once or fails forever.
 *
 * Invariants after every step: legal transitions only, `elected` before
 * `revoked` once per term, `state` agrees with `isLeader` at every event,
 * the leader signal is aborted once the last confirmed deadline has passed
 * (after timers ran), no unhandled rejection, and `stop()` settles once the
 * store answers; afterwards no timer is left.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import { ReadOnlyReplicaError, StoreUnavailableError } from '../../src/errors.js';
import type { LeaseRef, Unsubscribe } from '../../src/lock/lease-store.js';
import {
  ELECTION_METRICS_METHODS,
  type ElectionMetrics,
  type MetricsProvider,
} from '../../src/metrics/types.js';
import { checkEventLog, recordEvents } from '../helpers/event-log.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { commands } from '../helpers/elector-commands.js';
import { ScriptedStore } from '../helpers/scripted-store.js';

const LEASE = 1000;
const VALID = LEASE - 12;

type Action = 'resign' | 'stop' | 'start' | 'wait' | 'throw' | 'reject' | 'none';
type SubscribeMode = 'ok' | 'hang' | 'fail-once' | 'fail';

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 12, arbitrary: fc.constant('none' as const) },
  { weight: 3, arbitrary: fc.constant('resign' as const) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Action>('stop', 'start', 'wait', 'throw', 'reject'),
  },
);

const METHODS = ELECTION_METRICS_METHODS;

class SubscribingStore extends ScriptedStore {
  #attempts = 0;
  readonly #mode: SubscribeMode;
  constructor(now: () => number, mode: SubscribeMode) {
    super(now);
    this.#mode = mode;
  }
  override subscribe(): Promise<Unsubscribe> {
    const attempt = this.#attempts++;
    const fail = (): Promise<never> =>
      Promise.reject(new StoreUnavailableError('Connection is closed.', { ambiguous: true }));
    if (this.#mode === 'hang') return new Promise(() => undefined);
    if (this.#mode === 'fail' || (this.#mode === 'fail-once' && attempt === 0)) return fail();
    return Promise.resolve(() => undefined);
  }
}

let unhandled: unknown[] = [];
/** Coverage of the generated runs: a property that never reaches leadership proves little. */
const reached = { runs: 0, elected: 0, revokedByCallback: 0 };
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
const emitWarning = process.emitWarning.bind(process);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
  // Throwing loggers are reported once per elector as a process warning: expected here.
  process.emitWarning = () => undefined;
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  process.emitWarning = emitWarning;
});

describe('Elector under user code (property)', () => {
  it(
    'keeps its invariants when listeners, tasks and hooks call back, throw or reject',
    { timeout: 120_000 },
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(commands(10), { minLength: 5, maxLength: 40 }),
          fc.array(action, { minLength: 1, maxLength: 30 }),
          fc.subarray([...METHODS]),
          fc.boolean(),
          fc.constantFrom<SubscribeMode>('ok', 'hang', 'fail-once', 'fail'),
          async (commands, actions, throwingMethods, throwingLogger, subscribeMode) => {
            unhandled = [];
            reached.runs++;
            const clock = new FakeClock();
            const store = new SubscribingStore(() => clock.now(), subscribeMode);
            const broken = (): void => {
              throw new Error('hook broke');
            };
            const metrics: MetricsProvider = {
              forElector: () => {
                const sink = {} as Record<string, () => void>;
                for (const m of METHODS)
                  sink[m] = throwingMethods.includes(m) ? broken : () => undefined;
                return sink as unknown as ElectionMetrics;
              },
            };
            const noop = (): void => undefined;
            const logger = throwingLogger
              ? { debug: broken, info: broken, warn: broken, error: broken }
              : { debug: noop, info: noop, warn: noop, error: noop };
            const elector = new Elector({
              store,
              clock,
              election: 'p',
              ttlMs: LEASE,
              renewMs: 250,
              retryMs: 200,
              retryJitterMs: 50,
              requestTimeoutMs: 200,
              metrics,
              logger,
            });
            const log = recordEvents(elector);
            const problems: string[] = [];
            let stopping: Promise<void> | undefined;
            let next = 0;
            const act = (where: string): unknown => {
              const a = actions[next++ % actions.length];
              if (a === 'resign') void elector.resign();
              else if (a === 'stop') stopping ??= elector.stop();
              else if (a === 'start') elector.start().catch(() => undefined);
              else if (a === 'wait') elector.waitForLeadership().catch(() => undefined);
              else if (a === 'throw') throw new Error(`user code threw in ${where}`);
              else if (a === 'reject')
                return Promise.reject(new Error(`user code rejected in ${where}`));
              return undefined;
            };
            const consistent = (event: string): void => {
              if (
                (elector.state === 'leader') !== elector.isLeader &&
                elector.state !== 'stopped'
              ) {
                problems.push(`at ${event}: state ${elector.state}, isLeader ${elector.isLeader}`);
              }
            };
            for (const event of ['elected', 'revoked', 'leader', 'state'] as const) {
              elector.on(event, () => {
                consistent(event);
                return act(event);
              });
            }
            elector.on('error', () => act('error'));
            const signals = new Map<number, AbortSignal>();
            elector.on('elected', ({ term, signal }) => void signals.set(term, signal));
            elector.runWhileLeader(() => act('task'));
            let nextTerm = 1;
            const confirmed: [number, number][] = [];
            void elector.start().catch(() => undefined);

            const check = (afterTimers: boolean): void => {
              expect(checkEventLog(log)).toEqual([]);
              expect(problems).toEqual([]);
              const now = clock.now();
              if (elector.isLeader) {
                const term = elector.term as number;
                expect(confirmed.some(([t, at]) => t === term && now < at + VALID)).toBe(true);
              }
              if (!afterTimers) return;
              for (const [term, signal] of signals) {
                const last = Math.max(...confirmed.filter(([t]) => t === term).map(([, at]) => at));
                if (now >= last + VALID)
                  expect(signal.aborted, `term ${term} signal after its deadline`).toBe(true);
              }
            };

            for (const c of commands) {
              let afterTimers = false;
              if (c.kind === 'advance') {
                await clock.advance(c.ms);
                afterTimers = true;
              } else if (c.kind === 'stall') clock.jump(c.ms);
              else if (c.kind === 'resign') await Promise.race([elector.resign(), settle()]);
              else if (c.kind === 'stop') stopping ??= elector.stop();
              else {
                const open = store.calls.filter((x) => !x.settled);
                const call = open[c.pick % Math.max(1, open.length)];
                if (call?.op === 'acquire') {
                  if (c.answer < 5) {
                    const term = nextTerm++;
                    confirmed.push([term, call.at]);
                    call.resolve({ acquired: true, term });
                  } else if (c.answer < 8)
                    call.resolve({
                      acquired: false,
                      holder: {
                        identity: 'other',
                        term: 1000 + c.answer,
                        data: '',
                        remainingMs: c.remainingMs,
                      },
                    });
                  else call.reject(new StoreUnavailableError('BUSY', { ambiguous: false }));
                } else if (call?.op === 'renew') {
                  const lease = call.args[0] as LeaseRef;
                  if (c.answer < 6) {
                    confirmed.push([lease.term, call.at]);
                    call.resolve('renewed');
                  } else if (c.answer === 6) call.resolve('stolen');
                  else if (c.answer < 9)
                    call.reject(new StoreUnavailableError('BUSY', { ambiguous: false }));
                  else call.reject(new ReadOnlyReplicaError('READONLY'));
                } else if (call) call.resolve(call.op === 'release' ? true : null);
              }
              await settle();
              check(afterTimers);
            }
            stopping ??= elector.stop();
            let stopped = false;
            void stopping.then(() => (stopped = true));
            for (let i = 0; i < 50 && (!stopped || clock.pending > 0); i++) {
              for (const call of store.calls.filter((x) => !x.settled))
                call.reject(new StoreUnavailableError('closed', { ambiguous: true }));
              await clock.advance(1000);
            }
            expect(stopped, 'stop() settles once the store answers or times out').toBe(true);
            check(true);
            expect(elector.state).toBe('stopped');
            expect(elector.isLeader).toBe(false);
            expect(clock.pending, 'timers left after stop()').toBe(0);
            await settle();
            expect(unhandled).toEqual([]);
            if (log.some((e) => e.e === 'elected')) reached.elected++;
            if (log.some((e) => e.e === 'revoked' && e.reason === 'released'))
              reached.revokedByCallback++;
          },
        ),
        { numRuns: 400 },
      );
      expect(reached.elected / reached.runs).toBeGreaterThan(0.2); // about 0.35
      expect(reached.revokedByCallback).toBeGreaterThan(40); // about 90
    },
  );
});
