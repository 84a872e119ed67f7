/** The supervisor's "is the command's process group gone?" looks past zombies, not past live threads. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { groupAlive, groupMembers } from '../../src/cli/process-group.js';
import { mtWriter } from '../helpers/mt-writer.js';

let leader: number | undefined;
afterEach(() => {
  try {
    if (leader !== undefined) process.kill(-leader, 'SIGKILL');
  } catch {
    // gone
  }
  leader = undefined;
});

it('counts living members only: a zombie left in the group does not keep it alive', async () => {
  // sh forks a subshell that exits at once, then becomes `sleep`, which never reaps it.
  const proc = spawn('sh', ['-c', '(exit 0) & exec sleep 30'], { detached: true, stdio: 'ignore' });
  const pid = proc.pid as number;
  leader = pid;
  let members = groupMembers(pid) ?? [];
  for (let i = 0; i < 200 && !members.some((m) => m.state === 'Z'); i++) {
    await new Promise((r) => setTimeout(r, 10));
    members = groupMembers(pid) ?? [];
  }
  expect(members.filter((m) => m.state === 'Z')).toHaveLength(1);
  expect(members.filter((m) => m.state !== 'Z').map((m) => m.pid)).toEqual([pid]);
  expect(groupAlive(pid)).toBe(true);

  // Stop the only living member: what is left is a zombie whose parent will not reap it soon.
  process.kill(pid, 'SIGSTOP');
  expect(groupAlive(pid)).toBe(true); // stopped is not gone
  process.kill(pid, 'SIGKILL');
  await new Promise((r) => proc.once('exit', r));
  const zombies = (groupMembers(pid) ?? []).filter((m) => m.state === 'Z');
  if (zombies.length > 0) expect(() => process.kill(-pid, 0)).not.toThrow(); // kill() alone would say alive
  expect(groupAlive(pid)).toBe(false);
});

// Polls up to 5 s for the main thread to exit (vitest's default timeout is 5 s): 30 s.
it(
  'a member whose main thread exited while another thread runs (ps stat Zl) is alive',
  { timeout: 30_000 },
  async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tenure-mt-')), 'mt.ledger');
    const proc = spawn(mtWriter(), [file], { detached: true, stdio: 'ignore' });
    const pid = proc.pid as number;
    leader = pid;
    // The main thread has exited once /proc shows the leader as a zombie.
    let state = '';
    for (let i = 0; i < 500 && state !== 'Z'; i++) {
      await new Promise((r) => setTimeout(r, 10));
      state = (groupMembers(pid) ?? []).find((m) => m.pid === pid)?.state ?? '';
    }
    expect(state).toBe('Z');
    const before = readFileSync(file, 'utf8').split('\n').length;
    await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(file, 'utf8').split('\n').length).toBeGreaterThan(before); // it runs
    expect(groupAlive(pid)).toBe(true);
    process.kill(-pid, 'SIGKILL');
    await new Promise((r) => proc.once('exit', r));
    expect(groupAlive(pid)).toBe(false);
  },
);
