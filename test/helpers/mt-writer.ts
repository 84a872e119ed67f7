/**
 * Builds mt-writer.c (a command whose main thread exits while a worker thread
 * keeps writing a ledger) with gcc into .build/, once per source change; the
 * path of the binary. Concurrent test files may build at once: each writes
 * its own temporary file and renames it into place.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SOURCE = fileURLToPath(new URL('../../test/helpers/mt-writer.c', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function mtWriter(): string {
  // Compiled helpers run from .build/test/helpers; sources from test/helpers: resolve from the root.
  const root = existsSync(SOURCE) ? ROOT : fileURLToPath(new URL('../../..', import.meta.url));
  const source = `${root}/test/helpers/mt-writer.c`;
  const binary = `${root}/.build/mt-writer`;
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return binary;
  mkdirSync(`${root}/.build`, { recursive: true });
  const partial = `${binary}.${process.pid}`;
  try {
    execFileSync(process.env['CC'] ?? 'gcc', ['-O2', '-pthread', '-o', partial, source], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (error) {
    throw new Error(
      `cannot build ${source} (${(error as Error).message}): apt-get install gcc libc6-dev`,
      { cause: error },
    );
  }
  renameSync(partial, binary);
  return binary;
}
