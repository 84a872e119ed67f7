/**
 * Waits until a freshly spawned server process prints `marker` on stdout or
 * stderr. Rejects (and SIGKILLs the process) if it fails to run, exits first,
 * or stays silent for `timeoutMs`; the error carries what it printed. After
 * success the output is drained and ignored.
 */
import type { ChildProcess } from 'node:child_process';

export function serverReady(
  child: ChildProcess,
  marker: string,
  name: string,
  timeoutMs: number,
  cannotRun: (error: Error) => string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(
      () => fail(new Error(`${name} did not start within ${timeoutMs / 1000} s:\n${output}`)),
      timeoutMs,
    );
    const fail = (error: Error): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    child.once('error', (error) => fail(new Error(cannotRun(error))));
    const exited = (code: number | null): void =>
      fail(new Error(`${name} exited with ${code}:\n${output}`));
    child.once('exit', exited);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (!output.includes(marker)) return;
      clearTimeout(timer);
      child.off('exit', exited);
      for (const stream of [child.stdout, child.stderr]) {
        stream?.off('data', onData);
        stream?.resume();
      }
      resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  });
}
