/**
 * Checkers over a merged history (FAULT-PLAN §2.5): pure functions, each
 * returning the violations it found. A checker that never fires proves
 * nothing, so each is unit-tested on synthetic histories that must fire it,
 * and the must-fire scenarios run deliberately unsafe electors.
 */
import { type HistoryEvent, ns } from './history.js';

export interface Interval {
  readonly proc: string;
  readonly term: number;
  /** Belief start: became_leader. */
  readonly s: bigint;
  /** Belief end: the earlier of the last deadline recorded for the term and its step-down. */
  readonly e: bigint;
}

/** Belief intervals per (proc, term). `end` closes intervals still open when the run ended. */
export function beliefIntervals(history: readonly HistoryEvent[], end: bigint): Interval[] {
  const open = new Map<
    string,
    { proc: string; term: number; s: bigint; deadline: bigint; down: bigint | null }
  >();
  for (const e of history) {
    if (e.ev === 'became_leader')
      open.set(`${e.proc}/${e.term}`, {
        proc: e.proc,
        term: e.term,
        s: ns(e),
        deadline: BigInt(e.deadline),
        down: null,
      });
    else if (e.ev === 'deadline') {
      const i = open.get(`${e.proc}/${e.term}`);
      if (i && i.down === null) i.deadline = BigInt(e.deadline);
    } else if (e.ev === 'stepped_down') {
      const i = open.get(`${e.proc}/${e.term}`);
      if (i && i.down === null) i.down = ns(e);
    }
  }
  return [...open.values()].map((i) => {
    let e = i.deadline;
    if (i.down !== null && i.down < e) e = i.down;
    if (end < e) e = end;
    return { proc: i.proc, term: i.term, s: i.s, e };
  });
}

export interface Overlap {
  readonly a: Interval;
  readonly b: Interval;
  readonly overlapMs: number;
}

/** At most one leader: two intervals of different terms must not overlap (touching is fine). */
export function overlaps(intervals: readonly Interval[]): Overlap[] {
  const found: Overlap[] = [];
  const sorted = [...intervals].sort((x, y) => (x.s < y.s ? -1 : x.s > y.s ? 1 : 0));
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      const a = sorted[i] as Interval;
      const b = sorted[j] as Interval;
      if (b.s >= a.e) break;
      if (a.term === b.term && a.proc === b.proc) continue;
      const start = b.s;
      const stop = a.e < b.e ? a.e : b.e;
      if (start < stop) found.push({ a, b, overlapMs: Number(stop - start) / 1e6 });
    }
  }
  return found;
}

/**
 * Containment (deadline rule): every deadline an elector records (at
 * election and after each renewal) must be at most `t_send + T − D` of the
 * request whose reply established it, and each belief interval must end by
 * that bound of the last successful request. Replies on one connection come
 * back in the order requests were sent, so sends are matched FIFO per
 * process. Belief intervals end at the last recorded deadline at the latest,
 * so checking every deadline covers them. Catches "validity from reply time"
 * without needing a competitor.
 * `epsilonMs` absorbs rounding (performance.now() has µs resolution).
 */
export function containment(
  history: readonly HistoryEvent[],
  validMs: number,
  epsilonMs = 0.05,
): string[] {
  const problems: string[] = [];
  const valid = BigInt(Math.round(validMs * 1e6));
  const epsilon = BigInt(Math.round(epsilonMs * 1e6));
  const sends = new Map<string, bigint[]>();
  const byReq = new Map<string, bigint>(); // proc/req -> send time
  const lastOk = new Map<string, bigint>(); // proc/term -> send time of the last ok reply
  for (const e of history) {
    if (e.ev === 'acquire_send' || e.ev === 'renew_send') {
      if (e.req !== undefined) {
        byReq.set(`${e.proc}/${e.req}`, ns(e));
        continue;
      }
      const q = sends.get(e.proc) ?? [];
      q.push(ns(e));
      sends.set(e.proc, q);
    } else if (e.ev === 'acquire_reply' || e.ev === 'renew_reply') {
      // Paired by request number when recorded (a timed-out request's reply can come after
      // a later request's), else in order.
      const sent =
        e.req !== undefined ? byReq.get(`${e.proc}/${e.req}`) : sends.get(e.proc)?.shift();
      if (sent !== undefined && e.result === 'ok' && e.term !== undefined)
        lastOk.set(`${e.proc}/${e.term}`, sent);
    } else if (e.ev === 'became_leader' || e.ev === 'deadline') {
      const sent = lastOk.get(`${e.proc}/${e.term}`);
      if (sent === undefined)
        problems.push(
          `${e.proc} term ${e.term}: a deadline with no successful acquire/renew before it`,
        );
      else if (BigInt(e.deadline) > sent + valid + epsilon) {
        problems.push(
          `${e.proc} term ${e.term}: deadline ${Number(BigInt(e.deadline) - sent - valid) / 1e6} ms past t_send + T − D`,
        );
      }
    }
  }
  return problems;
}

/** Fencing: terms strictly increase with belief start; no accepted action at or after its term's belief end. */
export function fencing(
  history: readonly HistoryEvent[],
  intervals: readonly Interval[],
): string[] {
  const problems: string[] = [];
  const byStart = [...intervals].sort((x, y) => (x.s < y.s ? -1 : x.s > y.s ? 1 : 0));
  for (let i = 1; i < byStart.length; i++) {
    const prev = byStart[i - 1] as Interval;
    const cur = byStart[i] as Interval;
    if (cur.term <= prev.term)
      problems.push(
        `term ${cur.term} (${cur.proc}) began after term ${prev.term} (${prev.proc}) but is not greater`,
      );
  }
  const ends = new Map(intervals.map((i) => [`${i.proc}/${i.term}`, i]));
  for (const e of history) {
    if (e.ev !== 'action' || !e.accepted) continue;
    const i = ends.get(`${e.proc}/${e.term}`);
    if (!i) problems.push(`${e.proc} acted with term ${e.term} it never believed in`);
    else {
      // Judge the decision (the isLeader check right before sending), not the resource's answer.
      const decided = e.sent === undefined ? ns(e) : BigInt(e.sent);
      if (decided >= i.e)
        problems.push(
          `${e.proc} acted with term ${e.term} ${Number(decided - i.e) / 1e6} ms after its belief ended`,
        );
    }
  }
  return problems;
}

/** Accepted tokens in the fenced resource's log must be non-decreasing. */
export function resourceLog(tokens: readonly number[]): string[] {
  const problems: string[] = [];
  for (let i = 1; i < tokens.length; i++) {
    if ((tokens[i] as number) < (tokens[i - 1] as number))
      problems.push(`resource accepted token ${tokens[i]} after ${tokens[i - 1]}`);
  }
  return problems;
}

/** No resurrection: no renewal sent for a term after that term's step-down, per process. */
export function noRenewAfterStepDown(history: readonly HistoryEvent[]): string[] {
  const down = new Set<string>();
  const problems: string[] = [];
  for (const e of history) {
    if (e.ev === 'stepped_down') down.add(`${e.proc}/${e.term}`);
    if (e.ev === 'renew_send' && e.term !== undefined && down.has(`${e.proc}/${e.term}`))
      problems.push(`${e.proc} renewed term ${e.term} after stepping down`);
    if (e.ev === 'became_leader' && down.has(`${e.proc}/${e.term}`))
      problems.push(`${e.proc} became leader again with term ${e.term}`);
  }
  return problems;
}

/** Time from `from` to the first became_leader at or after it, in ms; null if none. */
export function timeToLeader(
  history: readonly HistoryEvent[],
  from: bigint,
  exceptProc?: string,
): number | null {
  const next = history.find(
    (e) => e.ev === 'became_leader' && ns(e) >= from && e.proc !== exceptProc,
  );
  return next ? Number(ns(next) - from) / 1e6 : null;
}

/** Everything a scenario must satisfy for safety, in one report. */
export function safetyReport(
  history: readonly HistoryEvent[],
  end: bigint,
  validMs: number,
  tokens: readonly number[],
) {
  const intervals = beliefIntervals(history, end);
  return {
    intervals,
    overlaps: overlaps(intervals),
    containment: containment(history, validMs),
    fencing: [...fencing(history, intervals), ...resourceLog(tokens)],
    resurrection: noRenewAfterStepDown(history),
  };
}
