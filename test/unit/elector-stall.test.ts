/**
 * Claim 3: "isLeader is computed at call time; the leader signal aborts by the deadline;
 * `state` agrees with isLeader at every event".
 */
import { describe, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import { StoreUnavailableError } from '../../src/errors.js';
import type { AcquireResult, RenewResult } from '../../src/lock/lease-store.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { ScriptedStore } from '../helpers/scripted-store.js';

async function leading() {
  const clock = new FakeClock();
  const store = new ScriptedStore(() => clock.now());
  const e = new Elector({
    store,
    clock,
    election: 'x',
    identity: 'a',
    ttlMs: 1000,
    renewMs: 250,
    retryMs: 200,
    retryJitterMs: 0,
  });
  const seen: string[] = [];
  for (const ev of ['elected', 'revoked', 'leader', 'state', 'error'] as const)
    e.on(ev, () => void seen.push(`${ev}: state=${e.state} isLeader=${e.isLeader}`));
  const started = e.start();
  await settle();
  store.pending<AcquireResult>('acquire').resolve({ acquired: true, term: 5 });
  await started;
  return { clock, store, e, seen };
}

describe('state vs isLeader', () => {
  it('the signal aborts exactly at the deadline when renewals hang (no stall)', async () => {
    const { clock, e } = await leading();
    const { signal } = await e.waitForLeadership();
    const deadline = e.deadline as number;
    await clock.advance(deadline - clock.now() - 1);
    expect(signal.aborted).toBe(false);
    await clock.advance(1);
    expect(signal.aborted).toBe(true);
    expect(e.isLeader).toBe(false);
    expect(e.state).not.toBe('leader');
    const stopping = e.stop();
    await clock.advance(5000);
    await stopping;
  });

  it("an 'error' event delivered after the deadline passed (no timer ran yet) sees state=leader, isLeader=false", async () => {
    const { clock, store, e, seen } = await leading();
    await clock.advance(250);
    const renew = store.pending<RenewResult>('renew');
    clock.jump(800); // past the deadline (1988), no timer has run: a short stall / late I/O callback
    seen.length = 0;
    renew.reject(new StoreUnavailableError('BUSY', { ambiguous: false }));
    await settle();
    const inconsistent = seen.filter((s) => s.includes('state=leader isLeader=false'));
    expect(inconsistent).toEqual([]);
    const stopping = e.stop();
    await clock.advance(5000);
    await stopping;
  });

  it('a renewal reply that arrives after the deadline passed (a stall) ends the term instead of reviving it', async () => {
    const { clock, store, e, seen } = await leading();
    await clock.advance(250);
    const renew = store.pending<RenewResult>('renew');
    clock.jump(750); // past the term's deadline (1988), before the renewal's own (renew sent + 988)
    const during = e.isLeader;
    seen.length = 0;
    renew.resolve('renewed');
    await settle();
    await clock.advance(1);
    expect({ during, after: e.isLeader }).toEqual({ during: false, after: false });
    expect(seen.some((s) => s.startsWith('revoked'))).toBe(true);
    const stopping = e.stop();
    await clock.advance(5000);
    await stopping;
  });
});
