/** Integration tests fork compiled workers: compile them once before the run. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  execFileSync('node', ['scripts/gen-scripts.mjs'], { cwd: root, stdio: 'inherit' });
  execFileSync(
    fileURLToPath(new URL('../../node_modules/.bin/tsc', import.meta.url)),
    ['-p', 'tsconfig.examples.json'],
    { cwd: root, stdio: 'inherit' },
  );
}
