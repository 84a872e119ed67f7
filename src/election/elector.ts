/**
 * Leader election over any {@link LeaseStore}: a follower → candidate →
 * leader state machine built on the lease contract. The elector decides
 * when to campaign, renew and step down; it never sees Redis.
 *
 * Guarantees (assumptions: see README "Not guaranteed" and docs/safety.md):
 * - **Deadline rule.** Leadership lasts until `t_send + leaseMs − drift` of
 *   the last confirmed acquire/renew, where `t_send` is read from the
 *   monotonic clock before the request was sent. The store cannot hand the
 *   lease to anyone else before `t_send + leaseMs`, so this elector stops
 *   leading before another can be elected. `isLeader` compares the clock with
 *   that deadline on every read: after an event-loop stall or SIGSTOP it is
 *   false on wake-up, before any timer has run. A renewal reply that arrives
 *   after its own deadline grants nothing; a definite refusal (not owner,
 *   READONLY, NOREPLICAS) ends leadership at once.
 * - **Events.** Exactly one event per transition; `revoked` only after
 *   `elected`, once per term, and the leader signal is aborted before
 *   `revoked` is emitted. Listener and task failures are caught and reported
 *   on `error`; no error escapes from a timer, and an `error` nobody listens
 *   to is logged (or, with no logger, emitted once per code as a process warning).
 * - **Fencing.** Each term is strictly greater than every earlier term of
 *   the election, also after the store lost its data.
 * - **Hand-over.** `stop()` and `resign()` abort the leader signal, wait for a
 *   renewal in flight and release the lease (compare-and-delete); the release
 *   notification wakes followers, so one is elected within a round trip or two.
 * - **Fail-over.** A follower sleeps until the holder's reported expiry (plus
 *   jitter), so after a crash the next leader is elected about `leaseMs` after
 *   the crashed leader's last renewal, at a cost of about one store call per
 *   lease period per follower.
 * Not guaranteed: that leader work stops in time. The signal aborts when a
 * timer runs; use `isLeader` right before acting, and the term as a fencing
 * token at the resource.
 */
import { LockKeyConflictError, StoppedError } from '../errors.js';
import { childLogger, type Logger, silentLogger } from '../internal/logger.js';
import { jitter } from '../internal/random.js';
import { abortSignal, func, integer, ownOptions } from '../internal/validate.js';
import { wait } from '../internal/wait.js';
import { attemptAcquire, releaseQuietly } from '../lock/acquire.js';
import { decodeData } from '../lock/data.js';
import { LeaseKeeper } from '../lock/lease-keeper.js';
import type { LeaseHolder, LeaseRef, Unsubscribe } from '../lock/lease-store.js';
import { isPermanent, watchHolders } from '../lock/watch.js';
import { type ElectionMetrics, noopMetrics } from '../metrics/types.js';
import type {
  ElectedEvent,
  ElectorEvents,
  ElectorHealth,
  ElectorState,
  LeaderInfo,
  LeadershipRecord,
  RevokeReason,
} from './events.js';
import { assessHealth } from './health.js';
import { LeadershipHistory } from './history.js';
import {
  type ElectorOptions,
  type ResolvedElectorOptions,
  resolveElectorOptions,
} from './options.js';
import { Reporter, renewFailure, summarize } from './reporter.js';
import { SafeEmitter } from './safe-emitter.js';

type LeaderTask = (signal: AbortSignal, term: number) => unknown;

/** Upper bound of the backoff after errors retrying cannot fix (a foreign key at the lease key). */
const MAX_BACKOFF_MS = 30_000;

export class Elector extends SafeEmitter<ElectorEvents> implements AsyncDisposable {
  readonly election: string;
  readonly identity: string;
  readonly #o: ResolvedElectorOptions;
  readonly #log: Logger;
  readonly #metrics: ElectionMetrics;
  readonly #history: LeadershipHistory;
  readonly #stopController = new AbortController();
  readonly #tasks = new Set<LeaderTask>();
  readonly #reporter: Reporter;
  #state: ElectorState = 'follower';
  #leader: LeaderInfo | null = null;
  #keeper: LeaseKeeper | undefined;
  #leadershipOver: (() => void) | undefined;
  #started: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #woken = false;
  /** Refused since it last led: may take a fair hand-off reservation. */
  #waiting = false;
  #sitOutUntil = 0;
  #permanentFailures = 0;
  /** Monotonic time of the last confirmed acquire/renew while leading. */
  #confirmedAt: number | null = null;
  /** Monotonic time since which every store operation failed; null after a success. */
  #failingSince: number | null = null;

  constructor(options: ElectorOptions) {
    const o = resolveElectorOptions(options);
    super((error, event) => this.#reporter.listenerFailed(error, String(event), this.term));
    this.#o = o;
    this.election = o.election;
    this.identity = o.identity;
    this.#log = childLogger(o.logger, { election: o.election, identity: o.identity });
    this.#reporter = new Reporter(this.#log, o.election, o.logger !== silentLogger, (err) => {
      if (this.listenerCount('error') === 0) return false;
      this.emitSafely('error', err);
      return true;
    });
    this.#history = new LeadershipHistory(o.historyLimit);
    this.#metrics =
      o.metrics?.forElector(
        { election: o.election, identity: o.identity },
        {
          isLeader: () => this.isLeader,
          term: () => this.term,
          remainingMs: () => this.remainingMs,
        },
      ) ?? noopMetrics;
  }

  /** The last transition. `isLeader` is the authoritative, computed answer. */
  get state(): ElectorState {
    return this.#state;
  }

  /** Computed now from the monotonic clock: leading and the deadline has not passed. */
  get isLeader(): boolean {
    return this.#keeper?.valid === true;
  }

  /**
   * While leading: the monotonic time (on the elector's clock, `performance.now()`
   * by default) at which leadership ends unless a renewal is confirmed; else null.
   */
  get deadline(): number | null {
    return this.#keeper?.valid ? this.#keeper.deadline : null;
  }

  /** Leadership validity left on the local monotonic clock, in ms; 0 when not leading. */
  get remainingMs(): number {
    return this.#keeper?.remainingMs ?? 0;
  }

  /** This elector's term while it leads (`isLeader`), else `null`. Use it as the fencing token. */
  get term(): number | null {
    return this.isLeader ? (this.#keeper?.lease.term ?? null) : null;
  }

  /** The leader as last known to this elector, or `null`. */
  get leader(): LeaderInfo | null {
    return this.#leader;
  }

  /**
   * Health as client-go's HealthzAdaptor sees it: unhealthy when this elector
   * leads but has not confirmed a renewal for `renewMs + renewToleranceMs`
   * (default `leaseMs − renewMs`), or when every store operation has failed
   * for longer than `storeToleranceMs` (default `leaseMs`).
   */
  health(options?: { renewToleranceMs?: number; storeToleranceMs?: number }): ElectorHealth {
    const o = ownOptions('options', options, ['renewToleranceMs', 'storeToleranceMs']);
    const { timing, clock } = this.#o;
    const renewToleranceMs = integer(
      'renewToleranceMs',
      o['renewToleranceMs'] ?? timing.ttlMs - timing.refreshMs,
      0,
    );
    const storeToleranceMs = integer('storeToleranceMs', o['storeToleranceMs'] ?? timing.ttlMs, 0);
    const now = clock.now();
    const leading = this.#keeper !== undefined;
    return assessHealth({
      state: this.#state,
      leading,
      isLeader: this.isLeader,
      term: this.term,
      leader: this.#leader,
      lastRenewalAgoMs: leading && this.#confirmedAt !== null ? now - this.#confirmedAt : null,
      storeFailingForMs: this.#failingSince === null ? null : now - this.#failingSince,
      renewMs: timing.refreshMs,
      renewToleranceMs,
      storeToleranceMs,
    });
  }

  /** Leaderships this elector observed, oldest first, at most `historyLimit`. */
  get history(): readonly LeadershipRecord[] {
    return this.#history.records;
  }

  /**
   * Starts campaigning (or observing with `campaign: false`). Resolves once
   * the first attempt has completed, so `isLeader` and `leader` are known.
   * Idempotent; rejects with `StoppedError` after `stop()`.
   */
  start(): Promise<void> {
    if (this.#stopController.signal.aborted)
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
   * Idempotent; before `start()` it only marks the elector stopped.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
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
    const keeper = this.#keeper;
    if (!keeper) return false;
    this.#sitOutUntil = this.#o.clock.now() + this.#o.retryMs + jitter(this.#o.retryJitterMs);
    await this.#release(keeper, 'released');
    return true;
  }

  /** Resolves when this elector leads (at once if it does now); rejects on `signal` abort or `stop()`. */
  waitForLeadership(options?: { signal?: AbortSignal }): Promise<ElectedEvent> {
    const signal = abortSignal('signal', ownOptions('options', options, ['signal'])['signal']);
    const keeper = this.#keeper;
    if (keeper?.valid) return Promise.resolve({ term: keeper.lease.term, signal: keeper.signal });
    if (this.#stopController.signal.aborted)
      return Promise.reject(new StoppedError('Elector is stopped'));
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.off('elected', onElected);
        this.off('state', onState);
        signal?.removeEventListener('abort', onAbort);
      };
      const onElected = (event: ElectedEvent): void => {
        done();
        resolve(event);
      };
      const onState = ({ to }: { to: ElectorState }): void => {
        if (to !== 'stopped') return;
        done();
        reject(new StoppedError('Elector stopped before it was elected'));
      };
      const onAbort = (): void => {
        done();
        reject(signal?.reason as Error);
      };
      this.on('elected', onElected);
      this.on('state', onState);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Runs `task(signal, term)` each time this elector is elected (at once if it
   * leads now); `signal` aborts when that leadership ends. Failures are
   * reported on `error`. Returns a function that unregisters the task.
   */
  runWhileLeader(task: (signal: AbortSignal, term: number) => unknown): () => void {
    func('task', task);
    this.#tasks.add(task);
    if (this.#keeper?.valid) this.#runTask(task, this.#keeper);
    return () => this.#tasks.delete(task);
  }

  // ---- campaign ---------------------------------------------------------------------------

  async #run(ready: () => void): Promise<void> {
    this.#diagnose();
    try {
      if (this.#o.campaign) await this.#campaign(ready);
      else await this.#observe(ready);
    } catch (error) {
      this.#report(error); // a bug if it happens: the loops catch store errors themselves
    } finally {
      ready();
    }
  }

  async #campaign(ready: () => void): Promise<void> {
    const unsubscribe = await this.#subscribe();
    try {
      while (!this.#stopController.signal.aborted) {
        const sitOut = this.#sitOutUntil - this.#o.clock.now();
        // After resign(), sit out even if notifications arrive: others get the first chance.
        if (sitOut > 0 && !(await this.#pause(sitOut, false))) break;
        this.#woken = false;
        const next = await this.#attempt();
        ready();
        if (next === 'leader') {
          await new Promise<void>((resolve) => (this.#leadershipOver = resolve));
          continue;
        }
        // After a store failure, wait the full retry delay: a release notification then is
        // often our own (a grant that could not be replicated is handed back), and retrying
        // at once would grab the name again and again while others could lead.
        const failed = this.#failingSince !== null;
        if (this.#woken && !failed) continue;
        if (!(await this.#pause(next, !failed))) break;
      }
    } finally {
      unsubscribe?.();
    }
  }

  /** One acquisition attempt; returns 'leader' or how long to wait before the next. */
  async #attempt(): Promise<'leader' | number> {
    const { store, clock, identity, data, timing, election } = this.#o;
    this.#transition('candidate');
    this.#log.debug({ event: 'attempt' }, 'campaigning');
    let outcome: Awaited<ReturnType<typeof attemptAcquire>>;
    try {
      outcome = await attemptAcquire(store, clock, {
        name: election,
        identity,
        data,
        timing,
        waiting: this.#waiting,
      });
    } catch (error) {
      this.#transition('follower');
      this.#metrics.attempt('error');
      this.#storeFailed();
      return this.#failureDelay(error);
    }
    this.#failingSince = null;
    this.#permanentFailures = 0;
    if (outcome.granted) {
      this.#metrics.attempt('acquired');
      if (this.#stopController.signal.aborted) {
        releaseQuietly(store, outcome.lease); // granted after stop(): hand it straight back
        this.#transition('follower');
        return 0;
      }
      this.#waiting = false;
      this.#becomeLeader(outcome.lease, outcome.sentAt);
      return 'leader';
    }
    this.#metrics.attempt('held');
    this.#transition('follower');
    this.#waiting = true;
    if (outcome.holder) this.#observeHolder(outcome.holder);
    // Sleep until the holder's lease (or a hand-off reservation for earlier waiters) would
    // expire; a release notification wakes us sooner.
    return (
      (outcome.holder ? outcome.holder.remainingMs : (outcome.reservedMs ?? this.#o.retryMs)) +
      jitter(this.#o.retryJitterMs)
    );
  }

  #becomeLeader(lease: LeaseRef, sentAt: number): void {
    const { store, clock, timing } = this.#o;
    const keeper: LeaseKeeper = new LeaseKeeper(store, clock, lease, timing, sentAt, {
      onRenewed: ({ durationMs }) => {
        this.#confirmedAt = clock.now() - durationMs;
        this.#failingSince = null;
        this.#metrics.renewed(durationMs);
      },
      onRenewFailed: (error) => {
        this.#storeFailed();
        this.#metrics.renewFailed(renewFailure(error));
        this.#report(error, 'renewal failed; still leading until the deadline');
      },
      onLost: (error) => this.#endLeadership(keeper, error.reason, error.cause),
    });
    this.#keeper = keeper;
    this.#confirmedAt = sentAt;
    const { term } = lease;
    this.#transition('leader');
    this.#metrics.elected(term);
    this.#log.info(
      { event: 'elected', term, validMs: Math.round(keeper.remainingMs) },
      'elected leader',
    );
    this.emitSafely('elected', { term, signal: keeper.signal });
    this.#setLeader({
      identity: this.identity,
      term,
      data: decodeData(this.#o.data),
      isSelf: true,
    });
    for (const task of this.#tasks) this.#runTask(task, keeper);
  }

  #endLeadership(keeper: LeaseKeeper, reason: RevokeReason, cause?: unknown): void {
    if (this.#keeper !== keeper) return;
    this.#keeper = undefined;
    const term = keeper.lease.term;
    this.#transition('follower');
    this.#metrics.revoked(reason);
    const calm = reason === 'released' || reason === 'stopped';
    this.#log[calm ? 'info' : 'warn'](
      { event: 'revoked', term, reason, ...(cause ? { err: summarize(cause) } : {}) },
      'stepped down',
    );
    this.emitSafely('revoked', cause === undefined ? { term, reason } : { term, reason, cause });
    this.#history.end(reason);
    this.#setLeader(null);
    this.#leadershipOver?.();
    this.#leadershipOver = undefined;
  }

  async #release(keeper: LeaseKeeper, reason: RevokeReason): Promise<void> {
    const released = keeper.release(); // aborts the leader signal at once, then waits for a renewal in flight
    this.#endLeadership(keeper, reason);
    try {
      await released;
    } catch (error) {
      this.#report(error, 'release failed; the lease will expire by its ttl');
    }
  }

  async #stop(): Promise<void> {
    this.#stopController.abort(new StoppedError('Elector stopped'));
    this.#wake?.();
    const keeper = this.#keeper;
    if (keeper) await this.#release(keeper, 'stopped');
    await this.#loop;
    this.#transition('stopped');
    this.#metrics.close();
    this.#log.info({ event: 'stopped' }, 'elector stopped');
  }

  // ---- observing --------------------------------------------------------------------------

  async #observe(ready: () => void): Promise<void> {
    const { store, clock, election, timing, retryMs } = this.#o;
    const signal = this.#stopController.signal;
    while (!signal.aborted) {
      try {
        const settings = {
          clock,
          signal,
          requestTimeoutMs: timing.requestTimeoutMs,
          retryMs,
          pollMs: timing.ttlMs,
          keepAlive: false,
          onError: (e: unknown) => {
            this.#storeFailed();
            this.#report(e);
          },
        };
        for await (const holder of watchHolders(store, election, settings)) {
          this.#failingSince = null;
          if (holder) this.#observeHolder(holder);
          else this.#setLeader(null);
          ready();
        }
      } catch (error) {
        ready();
        if (!(await this.#pause(this.#failureDelay(error)))) break;
      }
    }
  }

  #observeHolder(holder: LeaseHolder): void {
    if (this.#leader?.term === holder.term) return;
    this.#setLeader({
      identity: holder.identity,
      term: holder.term,
      data: decodeData(holder.data),
      isSelf: this.#keeper?.lease.term === holder.term,
    });
  }

  #setLeader(leader: LeaderInfo | null): void {
    if (leader === null && this.#leader === null) return;
    if (leader) this.#history.begin(leader.identity, leader.term);
    else this.#history.end('vacated');
    this.#leader = leader;
    this.#metrics.leaderChanged();
    this.emitSafely('leader', leader);
  }

  // ---- plumbing ---------------------------------------------------------------------------

  async #subscribe(): Promise<Unsubscribe | undefined> {
    try {
      return await this.#o.store.subscribe(this.election, () => {
        this.#woken = true;
        this.#wake?.();
      });
    } catch (error) {
      this.#report(error, 'no change notifications; waking at lease expiry only');
      return undefined;
    }
  }

  /** Waits `ms` (a notification may cut it short when `wakeable`); false once stopped. */
  async #pause(ms: number, wakeable = true): Promise<boolean> {
    const register = (wake: () => void): (() => void) => {
      this.#wake = wake;
      return () => (this.#wake = undefined);
    };
    try {
      // Background waits never hold the process open.
      await wait(
        this.#o.clock,
        ms,
        this.#stopController.signal,
        wakeable ? register : undefined,
        false,
      );
      return true;
    } catch {
      return false;
    }
  }

  /** Deployment warnings from the store (e.g. replicas without waitReplicas), once, in the background. */
  #diagnose(): void {
    const diagnose = this.#o.store.diagnose?.bind(this.#o.store);
    diagnose?.()
      .then((warnings) => warnings.forEach((w) => this.#reporter.deployment(w)))
      .catch(() => undefined);
  }

  #storeFailed(): void {
    this.#failingSince ??= this.#o.clock.now();
  }

  #failureDelay(error: unknown): number {
    this.#report(error, 'store operation failed');
    const { retryMs, retryJitterMs } = this.#o;
    if (!(error instanceof LockKeyConflictError) && !isPermanent(error))
      return retryMs + jitter(retryJitterMs);
    // Retrying cannot fix this until an operator acts: back off, capped, never a hot loop.
    this.#permanentFailures++;
    return (
      Math.min(retryMs * 2 ** (this.#permanentFailures - 1), Math.max(retryMs, MAX_BACKOFF_MS)) +
      jitter(retryJitterMs)
    );
  }

  #runTask(task: LeaderTask, keeper: LeaseKeeper): void {
    const { signal } = keeper;
    if (signal.aborted) return;
    const failed = (error: unknown): void => {
      // A task that stops because leadership ended is not a failure.
      if (
        signal.aborted &&
        (error === signal.reason || (error as Error | null)?.name === 'AbortError')
      )
        return;
      this.#report(error, 'leader task failed');
    };
    try {
      Promise.resolve(task(signal, keeper.lease.term)).catch(failed);
    } catch (error) {
      failed(error);
    }
  }

  #transition(to: ElectorState): void {
    const from = this.#state;
    if (from === to || from === 'stopped') return;
    this.#state = to;
    this.#log.debug({ event: 'state', from, to }, 'state changed');
    this.emitSafely('state', { from, to });
  }

  #report(error: unknown, context = 'error'): void {
    this.#reporter.report(error, context, this.term);
  }
}
