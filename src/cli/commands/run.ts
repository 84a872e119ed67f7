/**
 * `tenure run <election> [options] -- <command> [args…]`: campaigns for the
 * election and runs the command only while leading, with TENURE_ELECTION,
 * TENURE_TERM (the fencing token) and TENURE_IDENTITY in its environment.
 *
 * - Leadership ends (any reason): the command's process group gets SIGTERM,
 *   then SIGKILL after `--grace-ms`, never later than `--kill-margin-ms`
 *   before the lease deadline. The supervisor process keeps that schedule
 *   even when this process is paused (see `supervisor.ts`). Then it campaigns
 *   again; a new term starts the command again with its new TENURE_TERM.
 * - The command exits on its own: see `restarts.ts`. `--restart on-failure`
 *   (default) starts it again after a non-zero exit, with backoff from
 *   `--restart-delay-ms` doubling to 30 s, and ends `tenure run` after exit
 *   0; `always` restarts after any exit; `never` ends after any exit. A
 *   command that cannot be started (126, 127), or that fails
 *   `--max-failures` times in a row, gives up leadership. Ending releases
 *   the lease and exits with the command's status.
 * - The deadline schedule stopped it (renewals late): it starts again once a
 *   renewal has made room for the whole schedule, silently until then.
 * - While waiting for leadership: logs who leads, and each change.
 * - SIGTERM/SIGINT/SIGHUP: stops the command (a second signal SIGKILLs it),
 *   releases the lease so the next `tenure run` is elected at once, exits 0.
 */
import type { ElectedEvent, LeaderInfo } from '../../election/events.js';
import { Elector } from '../../election/elector.js';
import { StoreError } from '../../errors.js';
import { wait } from '../../internal/wait.js';
import { systemClock } from '../../internal/clock.js';
import {
  HOLDER_FLAGS,
  type Parsed,
  UsageError,
  commandAfterDash,
  integerFlag,
  onePositional,
  stringFlag,
} from '../args.js';
import { commandEnv, dataFlag } from '../command-env.js';
import { MAX_DELAY_MS, type RestartMode, type RestartPolicy, Restarts } from '../restarts.js';
import { type Context, context, withStore } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { resolveKillTiming, type KillTiming } from '../kill-timing.js';
import { loadMetrics } from '../metrics-server.js';
import { serveElection } from '../../http/election-server.js';
import { probeStore } from '../probe.js';
import { onShutdown } from '../shutdown.js';
import { logDeadlineSignal, logShutdown, runCommand } from '../run-command.js';
import { Supervisor } from '../supervised-command.js';

export const RUN_FLAGS = {
  ...HOLDER_FLAGS,
  restart: { type: 'string' },
  'restart-delay-ms': { type: 'string' },
  'max-failures': { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
} as const;

/** `--max-failures` default: failures in a row (none lasting 30 s) before leadership is given up. */
const MAX_FAILURES = 5;
/** How often a stopped command checks whether a renewal has made room to start it again. */
const ROOM_POLL_MS = 50;

interface RunPlan {
  readonly ctx: Context;
  readonly election: string;
  readonly command: readonly [string, ...string[]];
  readonly timing: KillTiming;
  readonly policy: RestartPolicy;
}

/** Whether the command is running now, for the shutdown message. */
interface Activity {
  running: boolean;
}

export async function run(parsed: Parsed): Promise<number> {
  const election = onePositional(parsed, 'election');
  const command = commandAfterDash(parsed);
  const ctx = context(parsed);
  const retryMs = 2_000;
  const timing = resolveKillTiming(parsed, retryMs);
  const mode = (stringFlag(parsed, 'restart') ?? 'on-failure') as RestartMode;
  if (!['always', 'on-failure', 'never'].includes(mode))
    throw new UsageError(
      `--restart must be always, on-failure or never, got ${JSON.stringify(mode)}`,
    );
  const policy: RestartPolicy = {
    mode,
    firstDelayMs: integerFlag(parsed, 'restart-delay-ms', 1_000, 0, MAX_DELAY_MS),
    maxFailures: integerFlag(parsed, 'max-failures', MAX_FAILURES, 0),
  };
  const metricsPort = integerFlag(parsed, 'metrics-port', -1, 0, 65_535);
  const data = dataFlag(parsed);
  const plan: RunPlan = { ctx, election, command, timing, policy };
  const metrics = metricsPort >= 0 ? await loadMetrics() : undefined;
  return withStore(
    ctx,
    async (open) => {
      // (Not when connecting failed already: that was reported, and the read would only
      // wait for the same server to say the same.)
      if (open.connectError === undefined) await probeStore(open.store, election, ctx.log, true);
      const identity = stringFlag(parsed, 'identity');
      const elector = new Elector({
        store: open.store,
        election,
        ...(identity === undefined ? {} : { identity }),
        ttlMs: timing.lease.ttlMs,
        renewMs: timing.lease.renewMs,
        retryMs: Math.min(retryMs, timing.lease.renewMs),
        data,
        logger: ctx.log,
        ...(metrics ? { metrics: metrics.provider } : {}),
      });
      // Store failures are already logged (warn) by the elector's own logger, which is ctx.log:
      // once is enough. Anything else (a listener, a task) is tenure's to report.
      elector.on('error', (error) =>
        error instanceof StoreError
          ? ctx.log.debug({ err: error }, 'elector error')
          : ctx.log.warn({ err: error }, 'elector error'),
      );
      const host = stringFlag(parsed, 'metrics-host') ?? '127.0.0.1';
      const server = metrics
        ? await serveElection({
            elector,
            registry: metrics.registry,
            host,
            port: metricsPort,
          }).catch((error: NodeJS.ErrnoException) => {
            throw new UsageError(
              `Cannot serve metrics on ${host}:${metricsPort} (--metrics-host, --metrics-port): ${error.code ?? error.message}`,
            );
          })
        : undefined;
      if (server) ctx.log.event(`serving /metrics, /healthz and /leader on ${server.url}`);
      const supervisor = new Supervisor(
        { graceMs: timing.graceMs, killMarginMs: timing.killMarginMs },
        logDeadlineSignal(ctx.log, { election }),
      );
      // From the first campaign attempt on, a signal is a shutdown that releases what was
      // granted (until now it exited at once: nothing held); the handlers stay until the end.
      const stoppingController = new AbortController();
      const killing = new AbortController();
      const activity: Activity = { running: false };
      const off = onShutdown(
        (signal) => {
          logShutdown(ctx.log, signal, activity.running, timing.graceMs, { election });
          stoppingController.abort();
        },
        (signal) => {
          logShutdown(ctx.log, signal, activity.running, timing.graceMs, { election }, true);
          killing.abort();
        },
      );
      try {
        // A shutdown need not wait for the first campaign attempt (up to a request timeout
        // for the subscription, then one for the acquisition, on a store that never answers):
        // stop() below gives back anything granted meanwhile.
        const stopping = stoppingController.signal;
        await Promise.race([
          elector.start(),
          new Promise<void>((resolve) => {
            if (stopping.aborted) resolve();
            stopping.addEventListener('abort', () => resolve(), { once: true });
          }),
        ]);
        return stopping.aborted
          ? EXIT.ok
          : await lead(plan, elector, supervisor, activity, stopping, killing.signal);
      } finally {
        await elector.stop(); // releases the lease: the next `tenure run` is woken at once
        await supervisor.close();
        await server?.close();
        metrics?.stop();
        ctx.log.event('stopped', { election });
        off();
      }
    },
    { tolerateUnreachable: true },
  );
}

/** The campaign-and-run loop; returns the exit code. */
async function lead(
  plan: RunPlan,
  elector: Elector,
  supervisor: Supervisor,
  activity: Activity,
  stopping: AbortSignal,
  killing: AbortSignal,
): Promise<number> {
  const { ctx, election, timing } = plan;
  const restarts = new Restarts(plan.policy, () => systemClock.now());
  const followLeader = watchLeader(ctx, elector, election);
  try {
    while (!stopping.aborted) {
      let leadership: ElectedEvent;
      followLeader(true);
      try {
        leadership = await elector.waitForLeadership({ signal: stopping });
      } catch {
        return EXIT.ok; // shutdown while waiting
      } finally {
        followLeader(false);
      }
      const { term, signal } = leadership;
      ctx.log.event(`elected leader of ${election}`, { term, identity: elector.identity });
      restarts.newTerm();
      const ended = (): void => ctx.log.event('leadership ended: stopping the command', { term });
      signal.addEventListener('abort', ended, { once: true });
      const stop = AbortSignal.any([signal, stopping]);
      try {
        let quiet = false;
        while (!stop.aborted) {
          const startedAt = systemClock.now();
          activity.running = true;
          const exit = await runCommand(
            supervisor,
            {
              command: plan.command,
              env: commandEnv({
                TENURE_ELECTION: election,
                TENURE_TERM: term,
                TENURE_IDENTITY: elector.identity,
              }),
              remainingMs: () => (elector.term === term ? elector.remainingMs : 0),
              graceMs: timing.graceMs,
              stop,
              kill: killing,
              fields: { term },
              quiet,
            },
            ctx.log,
          ).finally(() => (activity.running = false));
          if (exit === null || stop.aborted) break; // stopped before or while it ran
          if (exit.cause === 'supervisor-gone') return EXIT.internal;
          const next = restarts.next(exit, systemClock.now() - startedAt);
          if (next.kind === 'end') return next.status;
          if (next.kind === 'give-up') {
            ctx.log.error({ term }, `${next.why}: giving up leadership of ${election}`);
            return next.status; // the finally in run() releases the lease: another host takes over
          }
          if (next.kind === 'after-renewal') {
            // Not the command's failure: renewals were late. Start it again once a renewal
            // has moved the deadline far enough for the whole kill schedule (or the term ends).
            ctx.log.warn({ term }, 'the command starts again after the next renewal');
            await roomToStart(elector, term, timing, stop);
            quiet = false;
            continue;
          }
          const unlogged = restarts.announce();
          quiet = unlogged === null;
          if (!quiet && next.delayMs > 0)
            ctx.log.event(`restarting in ${next.delayMs} ms`, {
              term,
              failures: restarts.failures,
              ...(unlogged ? { 'restarts not shown': unlogged } : {}),
            });
          await wait(systemClock, next.delayMs, stop).catch(() => {});
        }
      } finally {
        signal.removeEventListener('abort', ended);
      }
    }
    return EXIT.ok;
  } finally {
    followLeader(null);
  }
}

/**
 * Resolves once the term's validity leaves room for the whole kill schedule
 * (grace and margin, as the supervisor requires to start the command), or
 * the term ends, or `stop` aborts. Polls the elector: no log lines.
 */
async function roomToStart(
  elector: Elector,
  term: number,
  timing: KillTiming,
  stop: AbortSignal,
): Promise<void> {
  const needMs = timing.graceMs + timing.killMarginMs + 2 * ROOM_POLL_MS;
  while (!stop.aborted && elector.term === term && elector.remainingMs <= needMs)
    await wait(systemClock, ROOM_POLL_MS, stop).catch(() => {});
}

/**
 * Logs who leads while this instance waits: once when a wait starts, then on
 * each change. `follow(true)` starts a wait, `follow(false)` ends it,
 * `follow(null)` removes the listener.
 */
function watchLeader(
  ctx: Context,
  elector: Elector,
  election: string,
): (waiting: boolean | null) => void {
  let waiting = false;
  const say = (leader: LeaderInfo | null): void => {
    if (!waiting || leader?.isSelf === true) return;
    if (leader === null) {
      ctx.log.event(`waiting: no leader of ${election} now`);
      return;
    }
    const seen = elector.history.find((r) => r.term === leader.term && r.to === null);
    ctx.log.event(`waiting: ${leader.identity} leads ${election}`, {
      term: leader.term,
      ...(seen ? { since: new Date(seen.from).toISOString() } : {}),
    });
  };
  const onLeader = (leader: LeaderInfo | null): void => say(leader);
  elector.on('leader', onLeader);
  return (next) => {
    if (next === null) {
      elector.off('leader', onLeader);
      return;
    }
    const starting = next && !waiting;
    waiting = next;
    if (starting) say(elector.leader);
  };
}
