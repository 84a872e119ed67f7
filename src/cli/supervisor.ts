/**
 * The supervisor process of `tenure run` and `tenure lock` (forked, in its
 * own process group so a terminal's Ctrl-Z or a SIGSTOP of the parent does
 * not stop it). It starts the command in a new session, so the command and
 * everything it starts share one process group, and it alone holds the
 * kill schedule:
 *
 *   SIGTERM to the group at  deadline − killMarginMs − graceMs
 *   SIGKILL to the group at  deadline − killMarginMs
 *
 * where the deadline is the lease's, measured by the parent from before its
 * last confirmed request was sent. The parent moves the deadline after each
 * renewal. If the parent stops renewing for any reason (paused, starved,
 * partitioned, killed), the schedule still runs here, so the command is dead
 * before the lease could pass to another holder. The command's exit is
 * reported only once its whole group is gone.
 *
 * Not covered: processes that leave the group (setsid, daemons), a process
 * in uninterruptible sleep, which dies when its system call returns, and a
 * supervisor paused or starved past the kill point together with its parent
 * (if only the supervisor is, the parent's backstop SIGKILLs the group half
 * the kill margin later: supervised-command.ts). Fencing with TENURE_TERM at
 * the resource covers those.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { groupAlive as isGroupAlive, sameGroup, startTime } from './process-group.js';
import type {
  FromSupervisor,
  StopCause,
  SupervisorSettings,
  ToSupervisor,
} from './supervisor-protocol.js';

const settings = JSON.parse(process.argv[2] ?? '{}') as SupervisorSettings;
const POLL_MS = 10;

let child: ChildProcess | null = null;
let group = 0;
/** When the command (the group's leader) started: a group whose id was reused is not signalled. */
let leaderStart: string | null = null;
let deadline = 0n;
let cause: StopCause = null;
let termTimer: NodeJS.Timeout | undefined;
let killTimer: NodeJS.Timeout | undefined;
let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
let exiting = false;
/** Stopping what a command left in its group after it exited. */
let cleaning = false;

const send = (message: FromSupervisor): void => {
  if (process.connected) process.send?.(message);
};
const nowNs = (): bigint => process.hrtime.bigint();
const msUntil = (at: bigint): number => Math.max(0, Number(at - nowNs()) / 1e6);

function signalGroup(signal: NodeJS.Signals): void {
  if (group === 0 || !sameGroup(group, leaderStart)) return;
  try {
    process.kill(-group, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

function groupAlive(): boolean {
  return group !== 0 && isGroupAlive(group, { threads: settings.withoutFixes?.threads !== true });
}

function killPoint(): bigint {
  return deadline - BigInt(settings.killMarginMs) * 1_000_000n;
}

/** (Re)arms the deadline schedule; a stop in progress keeps its own, earlier SIGKILL. */
function arm(): void {
  clearTimeout(termTimer);
  clearTimeout(killTimer);
  const kill = killPoint();
  const term = kill - BigInt(settings.graceMs) * 1_000_000n;
  if (cause === null)
    termTimer = setTimeout(() => {
      cause = 'deadline';
      signalGroup('SIGTERM');
      send({ t: 'deadline-signal', signal: 'SIGTERM' });
    }, msUntil(term));
  // The kill point is never skipped on a liveness guess: SIGKILL to a group that is gone is
  // harmless, one taken for gone that still runs (a live thread, a process /proc hides) is not.
  killTimer = setTimeout(() => {
    const looksAlive = groupAlive();
    if (settings.withoutFixes?.threads === true && !looksAlive) return; // the old skip
    signalGroup('SIGKILL');
    if (!looksAlive) return;
    cause ??= 'deadline';
    send({ t: 'deadline-signal', signal: 'SIGKILL' });
  }, msUntil(kill));
}

/** SIGTERM now, SIGKILL after `graceMs` or at the kill point; `why` null leaves the exit the command's own. */
function stop(graceMs: number, why: StopCause): void {
  if (group === 0) return;
  if (why !== null) cause ??= why;
  signalGroup('SIGTERM');
  const graceEnd = nowNs() + BigInt(graceMs) * 1_000_000n;
  const kill = graceEnd < killPoint() ? graceEnd : killPoint();
  clearTimeout(termTimer);
  clearTimeout(killTimer);
  killTimer = setTimeout(() => signalGroup('SIGKILL'), msUntil(kill));
}

/** After the group leader exited: report once every process of the group is gone. */
function awaitGroup(): void {
  if (groupAlive()) {
    // Leftovers of a command that exited on its own are stopped like the command; the exit
    // stays the command's own (its restart policy applies).
    if (!cleaning) {
      cleaning = true;
      stop(settings.graceMs, null);
    }
    setTimeout(awaitGroup, POLL_MS);
    return;
  }
  cleaning = false;
  clearTimeout(termTimer);
  clearTimeout(killTimer);
  const done = exit ?? { code: null, signal: null };
  send({ t: 'exited', code: done.code, signal: done.signal, cause });
  child = null;
  group = 0;
  leaderStart = null;
  cause = null;
  exit = null;
  if (exiting || !process.connected) process.exit(0);
}

function start(message: Extract<ToSupervisor, { t: 'spawn' }>): void {
  if (child !== null) throw new Error('spawn while a command is running');
  deadline = BigInt(message.deadline);
  if (msUntil(killPoint() - BigInt(settings.graceMs) * 1_000_000n) <= 0) {
    send({
      t: 'failed',
      reason: 'deadline',
      message: 'the lease deadline is too close to start the command',
    });
    return;
  }
  const proc = spawn(message.file, [...message.args], {
    detached: true, // setsid(): a new session and process group led by the command
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...message.env },
  });
  child = proc;
  proc.once('error', (error) => {
    // The command could not be started (ENOENT, EACCES): nothing runs.
    if (proc.pid === undefined) {
      child = null;
      send({ t: 'failed', reason: 'spawn', message: error.message });
    }
  });
  if (proc.pid === undefined) return;
  group = proc.pid;
  leaderStart = startTime(proc.pid);
  cause = null;
  arm();
  send({ t: 'started', pid: proc.pid, start: leaderStart });
  proc.once('exit', (code, signal) => {
    exit = { code, signal };
    awaitGroup();
  });
}

process.on('message', (message: ToSupervisor) => {
  switch (message.t) {
    case 'spawn':
      start(message);
      break;
    case 'deadline': {
      const next = BigInt(message.deadline);
      // Once the schedule has started (or a stop was asked, or the command's leftovers are
      // being stopped), the command is ending: keep its SIGKILL where it is.
      if (group !== 0 && cause === null && !cleaning && next > deadline) {
        deadline = next;
        arm();
      }
      break;
    }
    case 'stop':
      stop(message.graceMs, 'stop');
      break;
    case 'kill':
      cause ??= 'stop';
      signalGroup('SIGKILL');
      break;
  }
});

// The parent is gone (killed, crashed): stop the command within the grace
// period, bounded by the deadline as always, then exit.
process.on('disconnect', () => {
  exiting = true;
  if (group === 0) process.exit(0);
  stop(settings.graceMs, 'parent-gone');
});
// Signals to the supervisor itself (systemd's KillMode=control-group sends SIGTERM to every
// process of the unit at once) stop the command with its grace period, then exit.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const)
  process.on(signal, () => {
    exiting = true;
    if (group === 0) process.exit(0);
    stop(settings.graceMs, 'stop');
  });

// Listening: the parent sends the command only now, so a signal to the parent while this
// process boots can still keep the command from starting.
send({ t: 'ready' });
