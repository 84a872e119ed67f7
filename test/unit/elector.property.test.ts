/**
 * Model-based property test: random sequences of clock advances, stalls,
 * store replies (in any order, late or never), resign and stop. After every
 * step the elector must satisfy the safety invariants.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import {
  LockKeyConflictError,
  ReadOnlyReplicaError,
  StoreUnavailableError,
} from '../../src/errors.js';
import type { LeaseRef } from '../../src/lock/lease-store.js';
import { checkEventLog, recordEvents } from '../helpers/event-log.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { command } from '../helpers/elector-commands.js';
import { ScriptedStore } from '../helpers/scripted-store.js';

const LEASE = 1000;
const VALID = LEASE - 12; // drift = ceil(0.01 × 1000) + 2

describe('Elector state machine (property)', () => {
  it(
    'keeps its safety invariants under any interleaving of time, replies and lifecycle calls',
    { timeout: 60_000 },
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(command, { maxLength: 50 }), async (commands) => {
          const clock = new FakeClock();
          const store = new ScriptedStore(() => clock.now());
          const elector = new Elector({
            store,
            clock,
            election: 'p',
            ttlMs: LEASE,
            renewMs: 250,
            retryMs: 200,
            retryJitterMs: 50,
            requestTimeoutMs: 200,
          });
          elector.on('error', () => undefined);
          const log = recordEvents(elector);
          let nextTerm = 1;
          /** Calls whose reply confirmed the lease for a term: [term, send time]. */
          const confirmed: [number, number][] = [];
          /** Term → number of calls made when it was revoked. */
          const revokedAt = new Map<number, number>();
          elector.on('revoked', ({ term }) => revokedAt.set(term, store.calls.length));
          let stopping: Promise<void> | undefined;
          void elector.start(); // resolves after the first attempt, which the commands may never answer

          const check = (): void => {
            const now = clock.now();
            if (elector.isLeader) {
              const term = elector.term as number;
              const ok = confirmed.some(([t, at]) => t === term && now < at + VALID);
              expect(
                ok,
                `isLeader at ${now} without a confirmation for term ${term} sent after ${now - VALID}`,
              ).toBe(true);
            }
            expect(checkEventLog(log)).toEqual([]);
            for (const [i, call] of store.calls.entries()) {
              if (call.op !== 'renew') continue;
              const term = (call.args[0] as LeaseRef).term;
              const at = revokedAt.get(term);
              if (at !== undefined)
                expect(i, `renew of term ${term} after it was revoked`).toBeLessThan(at);
            }
          };

          for (const c of commands) {
            if (c.kind === 'advance') await clock.advance(c.ms);
            else if (c.kind === 'stall') clock.jump(c.ms);
            else if (c.kind === 'resign') await Promise.race([elector.resign(), settle()]);
            else if (c.kind === 'stop') stopping ??= elector.stop();
            else {
              const open = store.calls.filter((x) => !x.settled);
              const call = open[c.pick % Math.max(1, open.length)];
              if (call) {
                if (call.op === 'acquire') {
                  if (c.answer < 4) {
                    const term = nextTerm++;
                    confirmed.push([term, call.at]);
                    call.resolve({ acquired: true, term });
                  } else if (c.answer < 7) {
                    call.resolve({
                      acquired: false,
                      holder: {
                        identity: 'other',
                        term: 1000 + c.answer,
                        data: '',
                        remainingMs: c.remainingMs,
                      },
                    });
                  } else if (c.answer === 7)
                    call.reject(
                      new StoreUnavailableError('Connection is closed.', { ambiguous: true }),
                    );
                  else if (c.answer === 8) call.reject(new ReadOnlyReplicaError('READONLY'));
                  else call.reject(new LockKeyConflictError('k', 'list', 'x'));
                } else if (call.op === 'renew') {
                  const lease = call.args[0] as LeaseRef;
                  if (c.answer < 5) {
                    confirmed.push([lease.term, call.at]);
                    call.resolve('renewed');
                  } else if (c.answer === 5) call.resolve('expired');
                  else if (c.answer === 6) call.resolve('stolen');
                  else if (c.answer < 9)
                    call.reject(
                      new StoreUnavailableError('Connection is closed.', { ambiguous: true }),
                    );
                  else call.reject(new ReadOnlyReplicaError('READONLY'));
                } else {
                  call.resolve(c.answer < 8 ? (call.op === 'release' ? true : null) : false);
                }
              }
            }
            await settle();
            check();
          }
          // Drain: answer everything, let time pass, stop. Nothing may be left scheduled.
          stopping ??= elector.stop();
          let stopped = false;
          void stopping.then(() => (stopped = true));
          for (let i = 0; i < 50 && (!stopped || clock.pending > 0); i++) {
            for (const call of store.calls.filter((x) => !x.settled))
              call.reject(new StoreUnavailableError('closed', { ambiguous: true }));
            await clock.advance(1000);
          }
          expect(stopped, 'stop() settles once the store answers or times out').toBe(true);
          check();
          expect(elector.state).toBe('stopped');
          expect(clock.pending).toBe(0);
          expect(elector.isLeader).toBe(false);
        }),
        { numRuns: 1000 },
      );
    },
  );
});
