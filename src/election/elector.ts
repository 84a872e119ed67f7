/**
 * Leader election over any {@link LeaseStore}: a follower → candidate →
 * leader state machine built on the lease contract. The elector decides
 * when to campaign, renew and step down; it never sees Redis. This file is
 * the public facade; the pieces are `machine.ts` (state and transitions),
 * `term.ts` (one object per leadership term), `campaign.ts` (the campaign
 * loop) and `observer.ts` (observe mode).
 *
 * Guarantees (assumptions: see README "Not guaranteed" and docs/safety.md):
 * - **Deadline rule.** Leadership lasts until `t_send + ttlMs − drift` of
 *   the last confirmed acquire/renew, where `t_send` is read from the
 *   monotonic clock before the request was sent. `isLeader` compares the
 *   clock with that deadline on every read: after an event-loop stall or
 *   SIGSTOP it is false on wake-up, before any timer has run. A definite
 *   refusal ends leadership at once; "not now" errors are retried until the
 *   deadline (docs/safety.md, "Error classification").
 * - **Events.** Exactly one event per transition, delivered after the
 *   transition is committed, in the order the transitions happened;
 *   `revoked` only after `elected`, once per term; the leader signal is
 *   aborted before `revoked` is emitted. Listener, task and hook failures are
 *   caught and reported on `error`; no error escapes from a timer.
 * - **Re-entrancy.** Every public method may be called from any listener,
 *   task or `waitForLeadership` continuation; user code never runs in the
 *   middle of a transition.
 * - **Fencing.** Each term is strictly greater than every earlier term of
 *   the election, also after the store lost data or came back stale.
 * - **Hand-over.** `stop()` and `resign()` abort the leader signal, wait for a
 *   renewal in flight and release the lease (compare-and-delete); the release
 *   notification wakes followers, so one is elected within a round trip or two.
 * Not guaranteed: that leader work stops in time. The signal aborts when a
 * timer runs; use `isLeader` right before acting, and the term as a fencing
 * token at the resource.
 */
import { StoppedError } from '../errors.js';
import { jitter } from '../internal/random.js';
import { encodeData } from '../lock/data.js';
import { abortSignal, func, ownOptions } from '../internal/validate.js';
import { campaign } from './campaign.js';
import type {
  ElectedEvent,
  ElectorEvents,
  ElectorHealth,
  ElectorState,
  LeaderInfo,
  LeadershipRecord,
} from './events.js';
import { assessHealth, healthTolerances } from './health.js';
import { ElectorMachine, type LeaderTask } from './machine.js';
import { observe } from './observer.js';
import { nextElection } from './next-election.js';
import { type ElectorOptions, resolveElectorOptions } from './options.js';
import { SafeEmitter } from './safe-emitter.js';

export class Elector extends SafeEmitter<ElectorEvents> implements AsyncDisposable {
  readonly election: string;
  readonly identity: string;
  readonly #m: ElectorMachine;
  #started: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: ElectorOptions) {
    const o = resolveElectorOptions(options);
    super((error, event) => this.#m.reporter.listenerFailed(error, String(event), this.term));
    this.election = o.election;
    this.identity = o.identity;
    const outbox = {
      commit: <T>(fn: () => T): T => this.commit(fn),
      emit: <E extends keyof ElectorEvents>(e: E, ...a: Parameters<ElectorEvents[E]>): void =>
        this.emitSafely(e, ...a),
      emitWhile: <E extends keyof ElectorEvents>(
        guard: () => boolean,
        e: E,
        ...a: Parameters<ElectorEvents[E]>
      ): void => this.emitWhile(guard, e, ...a),
      defer: (fn: () => void): void => this.defer(fn),
      hasErrorListener: (): boolean => this.listenerCount('error') > 0,
    };
    this.#m = new ElectorMachine(o, outbox, {
      isLeader: () => this.isLeader,
      term: () => this.term,
      remainingMs: () => this.remainingMs,
      ttlMs: () => o.timing.ttlMs,
    });
  }

  /**
   * The last transition, except that `leader` is reported only while
   * `isLeader` holds: a term whose deadline passed is `follower` at once,
   * before the timer that ends it (and emits the `state` event) has run.
   */
  get state(): ElectorState {
    const state = this.#m.state;
    return state === 'leader' && this.#m.current?.valid !== true ? 'follower' : state;
  }

  /** Computed now from the monotonic clock: leading and the deadline has not passed. */
  get isLeader(): boolean {
    return this.#m.current?.valid === true;
  }

  /**
   * While leading: the monotonic time (on the elector's clock, `performance.now()`
   * by default) at which leadership ends unless a renewal is confirmed; else null.
   */
  get deadline(): number | null {
    const term = this.#m.current;
    return term?.valid ? term.keeper.deadline : null;
  }

  /** Leadership validity left on the local monotonic clock, in ms; 0 when not leading. */
  get remainingMs(): number {
    const term = this.#m.current;
    return term?.valid ? term.keeper.remainingMs : 0;
  }

  /** This elector's term while it leads (`isLeader`), else `null`. Use it as the fencing token. */
  get term(): number | null {
    const term = this.#m.current;
    return term?.valid ? term.term : null;
  }

  /** The leader as last known to this elector, or `null`. */
  get leader(): LeaderInfo | null {
    return this.#m.leader;
  }

  /** Leaderships this elector observed, oldest first, at most `historyLimit`. */
  get history(): readonly LeadershipRecord[] {
    return this.#m.history;
  }

  /**
   * Health as client-go's HealthzAdaptor sees it: unhealthy when this elector
   * leads but has not confirmed a renewal for `renewMs + renewToleranceMs`
   * (default `ttlMs − renewMs`), or when every store operation has failed
   * for longer than `storeToleranceMs` (default `ttlMs`).
   */
  health(options?: { renewToleranceMs?: number; storeToleranceMs?: number }): ElectorHealth {
    const { timing, clock } = this.#m.o;
    const now = clock.now();
    const current = this.#m.current;
    const failingSince = this.#m.failingSince;
    return assessHealth({
      ...healthTolerances(options, timing),
      state: this.state,
      leading: current !== undefined,
      isLeader: this.isLeader,
      term: this.term,
      leader: this.leader,
      lastRenewalAgoMs: current ? now - current.confirmedAt : null,
      storeFailingForMs: failingSince === null ? null : now - failingSince,
      renewMs: timing.renewMs,
    });
  }

  /**
   * Starts campaigning (or observing with `campaign: false`). Resolves once
   * the first attempt has completed (successfully or not), so `isLeader` and
   * `leader` are known. Idempotent; rejects with `StoppedError` after `stop()`.
   */
  start(): Promise<void> {
    if (this.#m.stopped)
      return Promise.reject(
        new StoppedError(`Elector ${JSON.stringify(this.election)} was stopped; create a new one`),
      );
    this.#started ??= new Promise<void>((ready) => {
      this.#loop = this.#run(ready);
    });
    return this.#started;
  }

  /**
   * Stops for good: aborts the leader signal, waits for a renewal in flight,
   * releases the lease (waking a follower at once), ends waits and
   * subscriptions. Leader tasks get an aborted signal but are not awaited.
   * Idempotent, callable from any listener or task; before `start()` it only
   * marks the elector stopped.
   */
  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    // Assigned before #stop() runs: a `revoked` listener calling stop() gets this promise.
    let settle!: () => void;
    this.#stopping = new Promise<void>((resolve) => (settle = resolve));
    this.#stop().then(settle, (error: unknown) => {
      this.#m.report(error); // a bug if it happens
      settle();
    });
    return this.#stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Steps down now and lets another take over, but keeps participating: this
   * elector sits out `retryMs` (+ jitter) before campaigning again. Resolves
   * `false` if it was not leading.
   */
  async resign(): Promise<boolean> {
    const term = this.#m.current;
    if (!term) return false;
    const { clock, retryMs, retryJitterMs } = this.#m.o;
    this.#m.sitOutUntil = clock.now() + retryMs + jitter(retryJitterMs);
    await this.#m.release(term, 'released');
    return true;
  }

  /**
   * Replaces the data this elector publishes with its lease (any JSON value,
   * as the `data` option), now if it leads and in every later term. The
   * leader keeps its term and its expiry; observers (`campaign: false`),
   * `Locker.watch()` and this elector's own `leader` event see the new data
   * (campaigning followers at their next attempt). Resolves `true` once the
   * store confirmed it, `false` when this elector does not lead (the data is
   * kept for its next term). Rejects with a `StoreError` if the store could
   * not confirm it (leadership is unaffected: a later call may retry), and
   * with `StoppedError` after `stop()`.
   */
  async updateData(data: unknown): Promise<boolean> {
    const encoded = encodeData('data', data);
    if (this.#m.stopped) throw new StoppedError('Elector is stopped');
    this.#m.data = encoded;
    const term = this.#m.current;
    if (!term?.valid) return false;
    return this.#m.publish(term);
  }

  /**
   * Resolves when this elector leads (at once if it does now) with a term
   * whose signal has not aborted; rejects on `signal` abort or `stop()`.
   */
  waitForLeadership(options?: { signal?: AbortSignal }): Promise<ElectedEvent> {
    const signal = abortSignal('signal', ownOptions('options', options, ['signal'])['signal']);
    const current = this.#m.current;
    // Computed on the clock, without ending a term here (its timer does, then the next term
    // resolves the wait): no listener runs inside this call.
    if (current?.valid) return Promise.resolve({ term: current.term, signal: current.signal });
    if (this.#m.stopped) return Promise.reject(new StoppedError('Elector is stopped'));
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return nextElection(this, signal);
  }

  /**
   * Runs `task(signal, term)` each time this elector is elected (at once if it
   * leads now); `signal` aborts when that leadership ends. Tasks start after
   * the `elected` listeners. Failures are reported on `error`. Returns a
   * function that unregisters the task.
   */
  runWhileLeader(task: (signal: AbortSignal, term: number) => unknown): () => void {
    func('task', task);
    const own: LeaderTask = (signal, term) => task(signal, term);
    this.#m.tasks.add(own);
    const current = this.#m.current;
    if (current?.valid) this.#m.startTask(own, current);
    return () => this.#m.tasks.delete(own);
  }

  async #run(ready: () => void): Promise<void> {
    await Promise.resolve(); // `#loop` is assigned before anything can call back into us
    try {
      if (this.#m.stopped) return; // stop() came first
      this.#m.diagnose();
      if (this.#m.o.campaign) await campaign(this.#m, ready);
      else await observe(this.#m, ready);
    } catch (error) {
      this.#m.report(error); // a bug if it happens: the loops catch store errors themselves
    } finally {
      ready();
    }
  }

  async #stop(): Promise<void> {
    this.#m.stopController.abort(new StoppedError('Elector stopped'));
    const term = this.#m.current;
    if (term) await this.#m.release(term, 'stopped');
    await this.#loop;
    this.#m.becomeStopped();
    this.#m.metrics.close();
    this.#m.log.info({ event: 'stopped' }, 'elector stopped');
  }
}
