/**
 * Whether a process group still has a living member. `kill(-pgid, 0)` also
 * succeeds while only zombies are left, and a command's orphans are reaped
 * by whatever runs as PID 1: slowly on some VMs (1.8 s seen here), never
 * in a container without an init. So on Linux the members are read from
 * /proc, and zombies do not count; elsewhere `kill` decides.
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
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid) members.push({ pid: Number(entry), state: fields[0] ?? '?' });
  }
  return members;
}

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const members = groupMembers(pgid);
  return members === null || members.some((m) => m.state !== 'Z' && m.state !== 'X');
}
