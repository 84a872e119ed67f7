import { describe, expect, it } from 'vitest';
import {
  beliefIntervals,
  containment,
  fencing,
  noRenewAfterStepDown,
  overlaps,
  resourceLog,
  timeToLeader,
} from './checkers.js';
import type { HistoryEvent } from './history.js';

const ms = (n: number): string => String(BigInt(n) * 1_000_000n);
const END = BigInt(ms(100_000));

describe('checkers on synthetic histories', () => {
  it('overlap fires for two leaders at once and not for touching intervals', () => {
    const twoAtOnce: HistoryEvent[] = [
      { t: ms(0), proc: 'a', ev: 'became_leader', term: 1, deadline: ms(1000) },
      { t: ms(500), proc: 'b', ev: 'became_leader', term: 2, deadline: ms(1500) },
    ];
    const found = overlaps(beliefIntervals(twoAtOnce, END));
    expect(found).toHaveLength(1);
    expect(found[0]?.overlapMs).toBe(500);
    const touching: HistoryEvent[] = [
      { t: ms(0), proc: 'a', ev: 'became_leader', term: 1, deadline: ms(1000) },
      { t: ms(1000), proc: 'b', ev: 'became_leader', term: 2, deadline: ms(2000) },
    ];
    expect(overlaps(beliefIntervals(touching, END))).toEqual([]);
  });

  it('a step-down before the deadline ends the belief interval', () => {
    const h: HistoryEvent[] = [
      { t: ms(0), proc: 'a', ev: 'became_leader', term: 1, deadline: ms(1000) },
      { t: ms(300), proc: 'a', ev: 'stepped_down', term: 1, reason: 'stopped' },
      { t: ms(400), proc: 'b', ev: 'became_leader', term: 2, deadline: ms(1400) },
    ];
    expect(overlaps(beliefIntervals(h, END))).toEqual([]);
    const extended: HistoryEvent[] = [
      { t: ms(0), proc: 'a', ev: 'became_leader', term: 1, deadline: ms(1000) },
      { t: ms(250), proc: 'a', ev: 'deadline', term: 1, deadline: ms(1250) },
      { t: ms(1100), proc: 'b', ev: 'became_leader', term: 2, deadline: ms(2100) },
    ];
    expect(overlaps(beliefIntervals(extended, END))).toHaveLength(1);
  });

  it('containment fires when belief outlives t_send + T − D (validity from reply time)', () => {
    const h: HistoryEvent[] = [
      { t: ms(0), proc: 'a', ev: 'acquire_send' },
      { t: ms(5), proc: 'a', ev: 'acquire_reply', result: 'ok', term: 1 },
      { t: ms(5), proc: 'a', ev: 'became_leader', term: 1, deadline: ms(988) },
      { t: ms(250), proc: 'a', ev: 'renew_send', term: 1 },
      { t: ms(850), proc: 'a', ev: 'renew_reply', term: 1, result: 'ok' },
      { t: ms(850), proc: 'a', ev: 'deadline', term: 1, deadline: ms(1838) }, // reply time + 988: wrong
    ];
    expect(containment(h, 988)).toEqual(['a term 1: deadline 600 ms past t_send + T − D']);
    const right: HistoryEvent[] = [
      ...h.slice(0, 5),
      { t: ms(850), proc: 'a', ev: 'deadline', term: 1, deadline: ms(1238) },
    ];
    expect(containment(right, 988)).toEqual([]);
  });

  it('containment pairs replies with their requests by number: a late reply to a timed-out request is not a false violation (CQ6 in one CI run)', () => {
    const h: HistoryEvent[] = [
      { t: ms(0), proc: 'a', ev: 'acquire_send', req: 1 }, // times out; its reply comes last
      { t: ms(250), proc: 'a', ev: 'acquire_send', req: 2 },
      { t: ms(260), proc: 'a', ev: 'acquire_reply', req: 2, result: 'ok', term: 1 },
      { t: ms(260), proc: 'a', ev: 'became_leader', term: 1, deadline: ms(1238) },
      { t: ms(300), proc: 'a', ev: 'acquire_reply', req: 1, result: 'held', term: 1 },
    ];
    expect(containment(h, 988)).toEqual([]);
    // In arrival order (the old pairing) the grant would be paired with the first send.
    const unnumbered = h.map((e) => {
      const { req: _req, ...rest } = e as HistoryEvent & { req?: number };
      return rest;
    });
    expect(containment(unnumbered, 988)).toEqual(['a term 1: deadline 250 ms past t_send + T − D']);
  });

  it('fencing fires on a term that does not increase and on acting after belief ended', () => {
    const h: HistoryEvent[] = [
      { t: ms(0), proc: 'a', ev: 'became_leader', term: 5, deadline: ms(1000) },
      { t: ms(500), proc: 'a', ev: 'action', term: 5, accepted: true },
      { t: ms(1200), proc: 'a', ev: 'action', term: 5, accepted: true },
      { t: ms(2000), proc: 'b', ev: 'became_leader', term: 4, deadline: ms(3000) },
    ];
    const problems = fencing(h, beliefIntervals(h, END));
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).toMatch(/term 4 .* not greater/);
    expect(problems.join('\n')).toMatch(/200 ms after its belief ended/);
    // An action decided while believed but answered after the belief ended is fine: the resource fenced it.
    const late: HistoryEvent[] = [
      { t: ms(0), proc: 'a', ev: 'became_leader', term: 5, deadline: ms(1000) },
      { t: ms(1010), proc: 'a', ev: 'action', term: 5, accepted: true, sent: ms(990) },
    ];
    expect(fencing(late, beliefIntervals(late, END))).toEqual([]);
    expect(resourceLog([1, 2, 2, 3])).toEqual([]);
    expect(resourceLog([1, 3, 2])).toHaveLength(1);
  });

  it('resurrection fires on a renewal after step-down', () => {
    const h: HistoryEvent[] = [
      { t: ms(0), proc: 'a', ev: 'stepped_down', term: 1, reason: 'deadline' },
      { t: ms(10), proc: 'a', ev: 'renew_send', term: 1 },
    ];
    expect(noRenewAfterStepDown(h)).toEqual(['a renewed term 1 after stepping down']);
  });

  it('measures time to the next leader', () => {
    const h: HistoryEvent[] = [
      { t: ms(1500), proc: 'b', ev: 'became_leader', term: 2, deadline: ms(2500) },
    ];
    expect(timeToLeader(h, BigInt(ms(1000)))).toBe(500);
    expect(timeToLeader(h, BigInt(ms(2000)))).toBeNull();
  });
});
