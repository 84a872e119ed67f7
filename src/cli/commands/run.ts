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
 * - The command exits on its own: `--restart on-failure` (default) starts it
 *   again after a non-zero exit, with backoff from `--restart-delay-ms`
 *   doubling to 30 s, and ends `tenure run` after exit 0; `always` restarts
 *   after any exit; `never` ends after any exit. Ending releases the lease
 *   and exits with the command's status.
 * - SIGTERM/SIGINT/SIGHUP: stops the command (a second signal SIGKILLs it),
 *   releases the lease so the next `tenure run` is elected at once, exits 0.
 */
import type { ElectedEvent } from '../../election/events.js';
import { Elector } from '../../election/elector.js';
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
import { commandEnv, dataFlag, exitStatus } from '../command-env.js';
import { type Context, context, withStore } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { resolveKillTiming, type KillTiming } from '../kill-timing.js';
import { loadMetrics } from '../metrics-server.js';
import { serveElection } from '../../http/election-server.js';
import { probeStore } from '../probe.js';
import { onShutdown } from '../shutdown.js';
import { logDeadlineSignal, runCommand } from '../run-command.js';
import { Supervisor } from '../supervised-command.js';

export const RUN_FLAGS = {
  ...HOLDER_FLAGS,
  restart: { type: 'string' },
  'restart-delay-ms': { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
} as const;

type Restart = 'always' | 'on-failure' | 'never';
const MAX_RESTART_DELAY_MS = 30_000;
const DEADLINE_RESTART_MS = 50;

interface RunPlan {
  readonly ctx: Context;
  readonly election: string;
  readonly command: readonly [string, ...string[]];
  readonly timing: KillTiming;
  readonly restart: Restart;
  readonly restartDelayMs: number;
}

export async function run(parsed: Parsed): Promise<number> {
  const election = onePositional(parsed, 'election');
  const command = commandAfterDash(parsed);
  const ctx = context(parsed);
  const retryMs = 2_000;
  const timing = resolveKillTiming(parsed, retryMs);
  const restart = (stringFlag(parsed, 'restart') ?? 'on-failure') as Restart;
  if (!['always', 'on-failure', 'never'].includes(restart))
    throw new UsageError(
      `--restart must be always, on-failure or never, got ${JSON.stringify(restart)}`,
    );
  const restartDelayMs = integerFlag(parsed, 'restart-delay-ms', 1_000, 0, MAX_RESTART_DELAY_MS);
  const metricsPort = integerFlag(parsed, 'metrics-port', -1, 0, 65_535);
  const plan: RunPlan = { ctx, election, command, timing, restart, restartDelayMs };
  const metrics = metricsPort >= 0 ? await loadMetrics() : undefined;
  return withStore(ctx, async (open) => {
    await probeStore(open.store, election, ctx.log, true);
    const identity = stringFlag(parsed, 'identity');
    const elector = new Elector({
      store: open.store,
      election,
      ...(identity === undefined ? {} : { identity }),
      ttlMs: timing.lease.ttlMs,
      renewMs: timing.lease.renewMs,
      retryMs: Math.min(retryMs, timing.lease.renewMs),
      data: dataFlag(stringFlag(parsed, 'data')),
      logger: ctx.log,
      ...(metrics ? { metrics: metrics.provider } : {}),
    });
    elector.on('error', (error) => ctx.log.warn({ err: error }, 'elector error'));
    const host = stringFlag(parsed, 'metrics-host') ?? '127.0.0.1';
    const server = metrics
      ? await serveElection({ elector, registry: metrics.registry, host, port: metricsPort }).catch(
          (error: NodeJS.ErrnoException) => {
            throw new UsageError(
              `Cannot serve metrics on ${host}:${metricsPort} (--metrics-host, --metrics-port): ${error.code ?? error.message}`,
            );
          },
        )
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
    const off = onShutdown(
      (signal) => {
        ctx.log.event(`${signal}: stopping`, { election });
        stoppingController.abort();
      },
      () => killing.abort(),
    );
    try {
      await elector.start();
      const stopping = stoppingController.signal;
      return stopping.aborted
        ? EXIT.ok
        : await lead(plan, elector, supervisor, stopping, killing.signal);
    } finally {
      await elector.stop(); // releases the lease: the next `tenure run` is woken at once
      await supervisor.close();
      await server?.close();
      metrics?.stop();
      ctx.log.event('stopped', { election });
      off();
    }
  });
}

/** The campaign-and-run loop; returns the exit code. */
async function lead(
  plan: RunPlan,
  elector: Elector,
  supervisor: Supervisor,
  stopping: AbortSignal,
  killing: AbortSignal,
): Promise<number> {
  const { ctx, election, timing } = plan;
  let delayMs = plan.restartDelayMs;
  while (!stopping.aborted) {
    let leadership: ElectedEvent;
    try {
      leadership = await elector.waitForLeadership({ signal: stopping });
    } catch {
      return EXIT.ok; // shutdown while waiting
    }
    const { term, signal } = leadership;
    ctx.log.event(`elected leader of ${election}`, { term, identity: elector.identity });
    const ended = (): void => ctx.log.event('leadership ended: stopping the command', { term });
    signal.addEventListener('abort', ended, { once: true });
    while (!signal.aborted && !stopping.aborted) {
      const startedAt = systemClock.now();
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
          stop: AbortSignal.any([signal, stopping]),
          kill: killing,
          fields: { term },
        },
        ctx.log,
      );
      if (exit === null || signal.aborted || stopping.aborted) break; // stopped before or while it ran
      if (exit.cause === 'supervisor-gone') return EXIT.internal;
      if (exit.cause === null) {
        const ok = exitStatus(exit) === 0;
        if (plan.restart === 'never' || (plan.restart === 'on-failure' && ok))
          return exitStatus(exit);
      }
      // Restart while still leading; a command stopped by the deadline schedule restarts
      // almost at once (it did not fail: renewals were late).
      if (systemClock.now() - startedAt > MAX_RESTART_DELAY_MS) delayMs = plan.restartDelayMs;
      const pause = exit.cause === 'deadline' ? DEADLINE_RESTART_MS : delayMs;
      if (exit.cause !== 'deadline')
        delayMs = Math.min(MAX_RESTART_DELAY_MS, Math.max(1, delayMs * 2));
      if (pause > 0) ctx.log.event(`restarting in ${pause} ms`, { term });
      await wait(systemClock, pause, AbortSignal.any([signal, stopping])).catch(() => {});
    }
    signal.removeEventListener('abort', ended);
  }
  return EXIT.ok;
}
