/**
 * Child processes started by the test helpers never outlive the process
 * that started them (a crashed run, or a script ending with process.exit):
 * one module-level registry of live children, reaped with SIGKILL by a
 * single process 'exit' listener, however many children were started.
 */
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let installed = false;

function reapAll(): void {
  for (const child of live) child.kill('SIGKILL');
}

/** Registers `child` until it exits. */
export function reapOnExit(child: ChildProcess): void {
  if (!installed) {
    process.on('exit', reapAll);
    installed = true;
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}
