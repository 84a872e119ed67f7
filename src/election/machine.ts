/**
 * The elector's state and every transition of it, shared by the campaign
 * loop, the observer and the facade.
 *
 * Contract: each transition is committed whole (state, current term, known
 * leader, history, metrics) before any user code runs; events and leader
 * tasks are queued in the emitter's outbox and delivered after the commit,
 * so a listener or task may call any public method. User hooks (metrics,
 * logger) are guarded: a throw is reported and never interrupts a
 * transition. Nothing here awaits user code.
 */
import { guardMethods } from '../internal/guard.js';
import { childLogger, type Logger, silentLogger } from '../internal/logger.js';
import { decodeData } from '../lock/data.js';
import { LeaseKeeper } from '../lock/lease-keeper.js';
import type { LeaseHolder, LeaseRef } from '../lock/lease-store.js';
import {
  ELECTION_METRICS_METHODS,
  type ElectionMetrics,
  type ElectorProbe,
  noopMetrics,
} from '../metrics/types.js';
import type {
  ElectorEvents,
  ElectorState,
  LeaderInfo,
  LeadershipRecord,
  RevokeReason,
} from './events.js';
import { FailurePolicy } from './failure-policy.js';
import { LeadershipHistory } from './history.js';
import type { ResolvedElectorOptions } from './options.js';
import { Reporter, renewFailure, summarize } from './reporter.js';
import { LeaderTerm } from './term.js';

export type LeaderTask = (signal: AbortSignal, term: number) => unknown;

/** How the machine reaches the emitter (the facade's protected outbox). */
export interface Outbox {
  commit<T>(fn: () => T): T;
  emit<E extends keyof ElectorEvents>(event: E, ...args: Parameters<ElectorEvents[E]>): void;
  /** `emit`, each listener delivered only while `guard()` holds (see SafeEmitter). */
  emitWhile<E extends keyof ElectorEvents>(
    guard: () => boolean,
    event: E,
    ...args: Parameters<ElectorEvents[E]>
  ): void;
  defer(fn: () => void): void;
  hasErrorListener(): boolean;
}

export class ElectorMachine {
  readonly o: ResolvedElectorOptions;
  readonly reporter: Reporter;
  readonly log: Logger;
  readonly metrics: ElectionMetrics;
  readonly tasks = new Set<LeaderTask>();
  readonly stopController = new AbortController();
  readonly #history: LeadershipHistory;
  readonly #out: Outbox;
  state: ElectorState = 'follower';
  leader: LeaderInfo | null = null;
  /** The term this elector holds, until it is over. */
  current: LeaderTerm | undefined;
  /** After `resign()`: no campaigning before this monotonic time. */
  sitOutUntil = 0;
  /** Encoded data published with the next acquisition (`updateData()` replaces it). */
  data: string;
  /** Encoded data of the known leader, to tell a data update from no change. */
  #leaderData: string | undefined;
  readonly #failures: FailurePolicy;

  constructor(o: ResolvedElectorOptions, out: Outbox, probe: ElectorProbe) {
    this.o = o;
    this.data = o.data;
    this.#out = out;
    const log = childLogger(o.logger, { election: o.election, identity: o.identity });
    this.reporter = new Reporter(log, o.election, o.logger !== silentLogger, (err) => {
      if (!out.hasErrorListener()) return false;
      out.emit('error', err);
      return true;
    });
    this.log = this.reporter.log;
    this.#history = new LeadershipHistory(o.historyLimit);
    this.#failures = new FailurePolicy(o.clock, o.retryMs, o.retryJitterMs);
    const metrics = o.metrics?.forElector({ election: o.election, identity: o.identity }, probe);
    this.metrics = metrics
      ? guardMethods(metrics, ELECTION_METRICS_METHODS, (error, method) =>
          this.report(error, `metrics ${method}() failed`),
        )
      : noopMetrics;
  }

  get history(): readonly LeadershipRecord[] {
    return this.#history.records;
  }

  get stopped(): boolean {
    return this.stopController.signal.aborted;
  }

  // ---- transitions (each one commit) ------------------------------------------------------

  becomeCandidate(): void {
    this.#out.commit(() => this.#transition('candidate'));
    this.log.debug({ event: 'attempt' }, 'campaigning');
  }

  becomeFollower(): void {
    this.#out.commit(() => this.#transition('follower'));
  }

  becomeStopped(): void {
    this.#out.commit(() => this.#transition('stopped'));
  }

  /**
   * Commits a new term for `lease`, acquired with a request sent at `sentAt`
   * that published `data` (encoded); events follow.
   */
  elect(lease: LeaseRef, sentAt: number, data: string): LeaderTerm {
    const { store, clock, timing } = this.o;
    return this.#out.commit(() => {
      // The keeper calls its hooks from timers only, after `term` is assigned.
      const keeper: LeaseKeeper = new LeaseKeeper(store, clock, lease, timing, sentAt, {
        onRenewed: ({ durationMs }) => {
          term.confirmedAt = clock.now() - durationMs;
          this.storeSucceeded();
          this.metrics.renewed(durationMs);
        },
        onRenewFailed: (error) => {
          this.storeFailed();
          this.metrics.renewFailed(renewFailure(error));
          this.report(error, 'renewal failed; still leading until the deadline');
        },
        onLost: (error) => this.endTerm(term, error.reason, error.cause),
      });
      const term = new LeaderTerm(keeper, sentAt);
      this.current = term;
      this.#transition('leader');
      this.metrics.elected(term.term);
      this.log.info(
        { event: 'elected', term: term.term, validMs: Math.round(keeper.remainingMs) },
        'elected leader',
      );
      // Each listener (and each task below) starts only while the term is valid on the clock:
      // one that stalls the event loop past the deadline ends the term for those after it.
      this.#out.emitWhile(() => this.inTime(term), 'elected', {
        term: term.term,
        signal: term.signal,
      });
      this.setLeader(
        { identity: this.o.identity, term: term.term, data: decodeData(data), isSelf: true },
        data,
      );
      for (const task of this.tasks) this.startTask(task, term);
      return term;
    });
  }

  /** Commits the end of `term` (once; later calls do nothing). Its signal is already aborted. */
  endTerm(term: LeaderTerm, reason: RevokeReason, cause?: unknown): void {
    this.#out.commit(() => {
      if (!term.finish(reason)) return;
      if (this.current === term) this.current = undefined;
      this.#transition('follower');
      this.metrics.revoked(reason);
      const calm = reason === 'released' || reason === 'stopped';
      this.log[calm ? 'info' : 'warn'](
        { event: 'revoked', term: term.term, reason, ...(cause ? { err: summarize(cause) } : {}) },
        'stepped down',
      );
      const t = term.term;
      this.#out.emit(
        'revoked',
        cause === undefined ? { term: t, reason } : { term: t, reason, cause },
      );
      this.#history.end(reason);
      this.setLeader(null);
    });
  }

  /**
   * Whether `term` is still on, checked on the clock now; a term whose
   * deadline passed unseen (its timer not run yet) ends here, reason
   * `deadline`, its signal aborted, before the caller starts any of its work.
   */
  live(term: LeaderTerm): boolean {
    return term.reason === undefined && term.keeper.confirm();
  }

  /**
   * The guard of a term's own events: false once its deadline has passed
   * (ending it now if that went unseen, as `live`). A term ended otherwise
   * (resigned, stopped, lost) keeps its events, its signal aborted: every
   * listener sees `elected` before `revoked` unless the deadline came between.
   */
  inTime(term: LeaderTerm): boolean {
    return term.reason === undefined ? term.keeper.confirm() : term.reason !== 'deadline';
  }

  /** Aborts the term's signal, ends it, then waits for the compare-and-delete. */
  async release(term: LeaderTerm, reason: RevokeReason): Promise<void> {
    // A term whose deadline passed unseen (a stall before this call) ended by the deadline, not
    // by this release: said so, and its events stay blocked (see `inTime`).
    term.keeper.confirm();
    const released = term.keeper.release(); // aborts the signal at once, then waits for a renewal in flight
    // The keeper may have ended already, by a loss whose hook has not run yet (an abort listener
    // that resigns from inside it): that loss is the reason.
    const lost = term.keeper.lossReason;
    if (lost !== undefined && lost !== 'released') this.endTerm(term, lost, term.keeper.lossCause);
    else this.endTerm(term, reason);
    try {
      await released;
    } catch (error) {
      this.report(error, 'release failed; the lease will expire by its ttl');
    }
  }

  /** A holder read from the store: a new leader, or new data from the known one (`updateData`). */
  observeHolder(holder: LeaseHolder): void {
    if (this.leader?.term === holder.term && this.#leaderData === holder.data) return;
    this.setLeader(
      {
        identity: holder.identity,
        term: holder.term,
        data: decodeData(holder.data),
        isSelf: this.current?.term === holder.term,
      },
      holder.data,
    );
  }

  /**
   * Publishes `this.data` with `term`'s lease; `true` once the store
   * confirmed it while the term lasts. Rejects as `LeaseKeeper.update` does.
   */
  async publish(term: LeaderTerm): Promise<boolean> {
    const data = this.data;
    if (!(await term.keeper.update(data))) return false;
    if (this.current !== term || !term.valid) return false;
    if (this.leader?.term === term.term && this.#leaderData !== data)
      this.setLeader({ ...this.leader, data: decodeData(data) }, data);
    return true;
  }

  /** `publish` in the background, failures reported. */
  republish(term: LeaderTerm): void {
    this.publish(term).catch((error: unknown) =>
      this.report(error, 'publishing updated data failed'),
    );
  }

  /** The known leader changed (a new term, new data of the same term, or none). */
  setLeader(leader: LeaderInfo | null, encodedData?: string): void {
    this.#out.commit(() => {
      if (leader === null && this.leader === null) return;
      if (!leader) this.#history.end('vacated');
      else if (leader.term !== this.leader?.term) this.#history.begin(leader.identity, leader.term);
      this.leader = leader;
      this.#leaderData = encodedData;
      this.metrics.leaderChanged();
      // This elector as leader: delivered only while its term is on (see `elect`).
      const own = leader?.isSelf === true ? this.current : undefined;
      if (own && own.term === leader?.term)
        this.#out.emitWhile(() => this.inTime(own), 'leader', leader);
      else this.#out.emit('leader', leader);
    });
  }

  /** Queues `task` for `term`: it starts after the queued events, unless the term is over by then. */
  startTask(task: LeaderTask, term: LeaderTerm): void {
    this.#out.defer(() => {
      const { signal } = term;
      if (!this.tasks.has(task) || !this.live(term)) return; // unregistered meanwhile, or over
      const failed = (error: unknown): void => {
        // A task that stops because leadership ended is not a failure.
        const aborted = error === signal.reason || (error as Error | null)?.name === 'AbortError';
        if (!(signal.aborted && aborted)) this.report(error, 'leader task failed');
      };
      try {
        Promise.resolve(task(signal, term.term)).catch(failed);
      } catch (error) {
        failed(error);
      }
    });
  }

  // ---- store health (see failure-policy.ts) --------------------------------------------

  get failingSince(): number | null {
    return this.#failures.failingSince;
  }

  storeFailed(): void {
    this.#failures.failed();
  }

  storeSucceeded(): void {
    this.#failures.succeeded();
  }

  /** Reports `error` and says how long to wait before the next try. */
  failureDelay(error: unknown): number {
    this.report(error, 'store operation failed');
    return this.#failures.delayAfter(error);
  }

  report(error: unknown, context = 'error'): void {
    this.reporter.report(error, context, this.current?.valid ? this.current.term : null);
  }

  /** Deployment warnings from the store (e.g. replicas without waitReplicas), once, in the background. */
  diagnose(): void {
    const { store } = this.o;
    if (typeof store.diagnose !== 'function') return;
    Promise.resolve()
      .then(() => store.diagnose?.())
      .then((warnings) => warnings?.forEach((w) => this.reporter.deployment(w)))
      .catch(() => undefined);
  }

  #transition(to: ElectorState): void {
    const from = this.state;
    if (from === to || from === 'stopped') return;
    this.state = to;
    this.log.debug({ event: 'state', from, to }, 'state changed');
    this.#out.emit('state', { from, to });
  }
}
