/**
 * Install truth: tenure is not on the npm registry yet (README "Install"),
 * so no document may tell a user to install it from there (`npm install
 * tenure` gives a 404). Installing the packed tarball or a git checkout is
 * fine. Delete this test once tenure is published.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SKIP = new Set(['node_modules', '.git', '.build', 'dist', '.tmp']);

function markdown(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (SKIP.has(name)) return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return markdown(path);
    return name.endsWith('.md') ? [path] : [];
  });
}

/** `npm install tenure`, `npm i tenure@1`, `yarn add tenure`, `pnpm add -D tenure`, `npx -p tenure`, … */
const FROM_REGISTRY =
  /\b(?:npm\s+(?:install|i|add)|yarn\s+add|pnpm\s+(?:add|install|i)|npx\s+(?:-p|--package))\b[^\n]*?(?:^|\s)tenure(?:@\S*)?(?=\s|$|`)/m;

describe('install lines', () => {
  it('the pattern tells a registry install from a tarball or a path', () => {
    expect(FROM_REGISTRY.test('npm install tenure ioredis')).toBe(true);
    expect(FROM_REGISTRY.test('npm i -D tenure@0.1.0')).toBe(true);
    expect(FROM_REGISTRY.test('pnpm add tenure')).toBe(true);
    expect(FROM_REGISTRY.test('npm install ../tenure/tenure-0.1.0.tgz ioredis')).toBe(false);
    expect(FROM_REGISTRY.test('npm install ioredis pg')).toBe(false);
  });

  it('no document installs tenure from the npm registry', () => {
    const offending = markdown(ROOT).flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => ({ line, where: `${relative(ROOT, file)}:${i + 1}` }))
        .filter(({ line }) => FROM_REGISTRY.test(line))
        .map(({ where, line }) => `${where}: ${line.trim()}`),
    );
    expect(offending).toEqual([]);
  });
});
