/**
 * `tenure lock <name> [--wait-ms N] [options] -- <command> [args…]`: runs the
 * command once while holding the lock, with TENURE_LOCK and TENURE_TERM (the
 * fencing token) in its environment. The lock is renewed while the command
 * runs; if it is lost (or renewals fall so late that the deadline nears),
 * the command's process group is stopped before the lease deadline, as in
 * `run`. Releases the lock when the command ends.
 *
 * Exit: the command's status (its code, or 128 + signal), 75 when the lock
 * was not acquired within `--wait-ms`, 76 when the lock was lost and the
 * command stopped. SIGTERM/SIGINT/SIGHUP while waiting exits 128 + signal;
 * while the command runs it is stopped, and its status is the exit code.
 */
import { Locker } from '../../lock/locker.js';
import type { Lock } from '../../lock/lock.js';
import { LockNotAcquiredError } from '../../errors.js';
import {
  HOLDER_FLAGS,
  type Parsed,
  commandAfterDash,
  integerFlag,
  onePositional,
  stringFlag,
} from '../args.js';
import { commandEnv, dataFlag, exitStatus } from '../command-env.js';
import { StoreFailure, context, withStore } from '../context.js';
import { CONNECT_TIMEOUT_MS, loadClient } from '../open-store.js';
import { wait } from '../../internal/wait.js';
import { systemClock } from '../../internal/clock.js';
import { EXIT, signalExitCode } from '../exit-codes.js';
import { resolveKillTiming } from '../kill-timing.js';
import { PROBE_TIMEOUT_MS, probeStore } from '../probe.js';
import { type ShutdownSignal, onShutdown } from '../shutdown.js';
import { logDeadlineSignal, logShutdown, runCommand } from '../run-command.js';
import { Supervisor } from '../supervised-command.js';

export const LOCK_FLAGS = {
  ...HOLDER_FLAGS,
  'wait-ms': { type: 'string' },
} as const;

const RETRY_MS = 200;
/** Beyond the request timeout, how long an abandoned attempt may take to settle before exit. */
const SETTLE_SLACK_MS = 1_000;

export async function lock(parsed: Parsed): Promise<number> {
  const name = onePositional(parsed, 'name');
  const command = commandAfterDash(parsed);
  const ctx = context(parsed);
  const timing = resolveKillTiming(parsed, RETRY_MS);
  const waitMs =
    parsed.values['wait-ms'] === undefined ? Infinity : integerFlag(parsed, 'wait-ms', 0, 0);
  // --wait-ms bounds the whole wait, connecting and the first read included (0: one
  // attempt, each step with its usual bound); it starts once the client package is loaded,
  // which takes longer than a local round trip.
  await loadClient(ctx.url);
  const until = systemClock.now() + waitMs;
  const leftMs = (usual: number): number =>
    waitMs === 0 ? usual : Math.min(usual, Math.max(0, Math.ceil(until - systemClock.now())));
  const identity = stringFlag(parsed, 'identity');
  const options = {
    ttlMs: timing.lease.ttlMs,
    renewMs: timing.lease.renewMs,
    retryMs: RETRY_MS,
    data: dataFlag(parsed),
  };
  let shutdown: ShutdownSignal | null = null;
  let running = false; // the command runs: the shutdown line says how long tenure waits
  const interrupt = new AbortController();
  const killing = new AbortController();
  let off = (): void => {};
  try {
    return await withStore(
      ctx,
      async (open) => {
        const probeMs = leftMs(PROBE_TIMEOUT_MS);
        if (probeMs === 0)
          throw new StoreFailure(`${ctx.url.display}: did not answer within --wait-ms ${waitMs}`);
        await probeStore(open.store, name, ctx.log, false, probeMs);
        // From here a signal is handled (until now it exited at once, 128 + n: nothing held).
        off = onShutdown(
          (signal) => {
            logShutdown(ctx.log, signal, running, timing.graceMs, { name });
            shutdown = signal;
            interrupt.abort();
          },
          (signal) => {
            logShutdown(ctx.log, signal, running, timing.graceMs, { name }, true);
            killing.abort();
          },
        );
        const locker = new Locker(open.store, identity === undefined ? {} : { identity });
        let held: Lock | null;
        try {
          held =
            waitMs === 0
              ? await locker.tryLock(name, options)
              : await locker.lock(name, {
                  ...options,
                  signal:
                    waitMs === Infinity
                      ? interrupt.signal
                      : AbortSignal.any([interrupt.signal, AbortSignal.timeout(leftMs(waitMs))]),
                });
        } catch (error) {
          // An attempt the abort left in flight may still be granted: give that grant back
          // before the store's client closes (bounded by the request timeout).
          await Promise.race([
            locker.settled(),
            wait(systemClock, timing.lease.requestTimeoutMs + SETTLE_SLACK_MS).catch(() => {}),
          ]);
          if (shutdown !== null) return signalExitCode(shutdown);
          if (error instanceof LockNotAcquiredError || isTimeout(error)) held = null;
          else throw error;
        }
        if (held === null) {
          ctx.log.event(
            waitMs === 0
              ? `not acquired: ${name} is held by someone else`
              : `not acquired: ${name} within --wait-ms ${waitMs}`,
            { waitedMs: waitMs },
          );
          return EXIT.notAcquired;
        }
        const lease = held;
        ctx.log.event(`acquired ${name}`, { term: lease.term });
        if (shutdown !== null) {
          // The signal came while the grant was on its way: do not start the command.
          await lease.release().catch(() => false);
          return signalExitCode(shutdown);
        }
        const supervisor = new Supervisor(
          { graceMs: timing.graceMs, killMarginMs: timing.killMarginMs },
          logDeadlineSignal(ctx.log, { name, term: lease.term }),
        );
        const onLost = (): void => {
          if (shutdown === null)
            ctx.log.warn({ name, term: lease.term }, 'lock lost: stopping the command');
        };
        lease.signal.addEventListener('abort', onLost, { once: true });
        try {
          running = true;
          const exit = await runCommand(
            supervisor,
            {
              command,
              env: commandEnv({
                TENURE_LOCK: name,
                TENURE_TERM: lease.term,
                TENURE_IDENTITY: locker.identity,
              }),
              remainingMs: () => lease.remainingMs,
              graceMs: timing.graceMs,
              stop: AbortSignal.any([lease.signal, interrupt.signal]),
              kill: killing.signal,
              fields: { term: lease.term },
            },
            ctx.log,
          ).finally(() => (running = false));
          // Lost: the lease ended under the command (before our release), or its deadline neared.
          const lost = shutdown === null && (lease.signal.aborted || exit?.cause === 'deadline');
          if (exit === null)
            return lost || shutdown === null ? EXIT.lost : signalExitCode(shutdown);
          if (exit.cause === 'supervisor-gone') return EXIT.internal;
          return lost ? EXIT.lost : exitStatus(exit);
        } finally {
          lease.signal.removeEventListener('abort', onLost);
          await lease.release().catch(() => false);
          await supervisor.close();
        }
      },
      { connectMs: leftMs(CONNECT_TIMEOUT_MS) },
    );
  } finally {
    off();
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'TimeoutError';
}
