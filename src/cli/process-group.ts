/**
 * Whether a process group still has a living member. `kill(-pgid, 0)` also
 * succeeds while only zombies are left, and a command's orphans are reaped
 * by whatever runs as PID 1: slowly on some VMs (1.8 s seen here), never
 * in a container without an init. So on Linux the members are read from
 * /proc, and finished zombies do not count; elsewhere `kill` decides.
 *
 * A process whose main thread exited (`pthread_exit`) while other threads
 * run shows as a zombie in /proc/<pid>/stat (`ps` stat `Zl`) yet still
 * runs: a member is dead only when every task under /proc/<pid>/task is.
 * This is a liveness guess for reporting the command's end; the kill
 * schedule never depends on it (SIGKILL to a group that is gone is harmless).
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface Member {
  readonly pid: number;
  /** The state letter of /proc/<pid>/stat: R, S, D, T, Z, … */
  readonly state: string;
}

/** The members of process group `pgid` as /proc lists them, or null without /proc. */
export function groupMembers(pgid: number): Member[] | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  const members: Member[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(`/proc/${entry}/stat`);
    if (fields !== null && Number(fields[2]) === pgid)
      members.push({ pid: Number(entry), state: fields[0] ?? '?' });
  }
  return members;
}

/** Whether `member` runs: not a zombie, or a zombie leader some of whose threads still run. */
export function memberAlive(member: Member): boolean {
  if (!finished(member.state)) return true;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${member.pid}/task`);
  } catch {
    return false; // reaped meanwhile
  }
  return tasks.some((tid) => {
    const state = statFields(`/proc/${member.pid}/task/${tid}/stat`)?.[0];
    return state !== undefined && !finished(state);
  });
}

/** `threads: false` is the check before issue 21 (a zombie leader is dead), for a must-fire row only. */
export function groupAlive(pgid: number, { threads = true } = {}): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const members = groupMembers(pgid);
  return members === null || members.some((m) => (threads ? memberAlive(m) : !finished(m.state)));
}

/** When process `pid` started (/proc/<pid>/stat field 22, clock ticks since boot), or null. */
export function startTime(pid: number): string | null {
  return statFields(`/proc/${pid}/stat`)?.[19] ?? null;
}

/**
 * Whether a signal to group `pgid` can reach only the group whose leader
 * started at `leaderStart`, not another group that reuses the id. Linux does
 * not hand out a pid that is still in use as a group id, so the id can be
 * reused only once every member of the group is gone; a process with pid
 * `pgid` that started at another time is then not ours. Left open: a reused
 * id whose new leader has exited too while its group lives on (a pid wrap
 * within the lease's ttl, then that sequence). True without /proc or without
 * a recorded start.
 */
export function sameGroup(pgid: number, leaderStart: string | null): boolean {
  if (leaderStart === null) return true;
  const start = startTime(pgid);
  return start === null || start === leaderStart;
}

function finished(state: string): boolean {
  return state === 'Z' || state === 'X';
}

/** The fields of a /proc stat file after "pid (comm) ", or null if it is gone. */
function statFields(path: string): string[] | null {
  let stat: string;
  try {
    stat = readFileSync(path, 'utf8');
  } catch {
    return null; // exited meanwhile
  }
  // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}
