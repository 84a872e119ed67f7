/**
 * Every TypeScript block of README.md is a program that compiles: the blocks
 * are extracted, type-checked as a consumer would (strict, `module: nodenext`,
 * importing `tenure`, `tenure/http`, `tenure/prometheus`, `tenure/postgres` and `tenure/etcd`
 * through the package's own `exports` map), and the blocks marked `<!-- readme: run -->`
 * are run against a private redis-server, PostgreSQL and 3-member etcd cluster and must
 * exit 0 on their own (a
 * program that leaves a client open never exits and fails here).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../helpers/redis-server.js';
import { PostgresServer } from '../helpers/postgres-server.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
// Inside the package, so `import 'tenure'` resolves to this package by its name and exports.
const work = join(root, '.tmp', `readme-${process.pid}`);
const tsc = join(root, 'node_modules', '.bin', 'tsc');

interface Block {
  readonly line: number;
  readonly code: string;
  readonly run: boolean;
}

function blocks(): Block[] {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
  const found: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```ts') continue;
    const end = lines.indexOf('```', i + 1);
    const marker = lines.slice(Math.max(0, i - 2), i).join('\n');
    found.push({
      line: i + 1,
      code: lines.slice(i + 1, end).join('\n'),
      run: marker.includes('<!-- readme: run -->'),
    });
    i = end;
  }
  return found;
}

const all = blocks();
let server: RedisServer;
let postgres: PostgresServer;
let etcd: EtcdCluster;
let typeErrors = '';

beforeAll(async () => {
  // The package's entry points (dist/) as a consumer gets them.
  execFileSync(tsc, ['-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  for (const [i, block] of all.entries())
    writeFileSync(join(work, `block-${i}.ts`), `${block.code}\nexport {};\n`);
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2023', 'esnext.disposable'],
        types: ['node'],
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        skipLibCheck: true,
        rootDir: '.',
        outDir: 'out',
      },
      include: ['*.ts'],
    }),
  );
  try {
    execFileSync(tsc, ['-p', work], { cwd: work, encoding: 'utf8' }); // emits out/ even on errors
  } catch (error) {
    typeErrors = (error as { stdout?: string }).stdout ?? String(error);
  }
  server = await RedisServer.start();
  postgres = await PostgresServer.start();
  etcd = await EtcdCluster.start();
}, 120_000);

afterAll(async () => {
  await server.stop();
  await postgres.stop();
  await etcd.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('README.md code blocks', () => {
  it('has TypeScript blocks, runnable ones among them', () => {
    expect(all.length).toBeGreaterThanOrEqual(3);
    expect(all.filter((b) => b.run).length).toBeGreaterThanOrEqual(3);
  });

  it('type-check under strict nodenext against the package exports', () => {
    // Name the README line of each error.
    const located = typeErrors.replace(/block-(\d+)\.ts\((\d+)/g, (_, b: string, l: string) => {
      const block = all[Number(b)];
      return `README.md:${(block?.line ?? 0) + Number(l)} (block-${b}.ts(${l})`;
    });
    expect(located).toBe('');
  });

  for (const [i, block] of all.entries()) {
    if (!block.run) continue;
    it(`runs the block at README.md:${block.line} to completion`, async () => {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [join(work, 'out', `block-${i}.js`)],
        {
          cwd: work,
          env: {
            ...process.env,
            REDIS_URL: server.url,
            DATABASE_URL: `postgres://${postgres.user}@${postgres.host}:${postgres.port}/${postgres.database}`,
            ETCD_ENDPOINTS: etcd.endpoints.join(','),
          },
          timeout: 20_000,
        },
      );
      expect(stdout.length).toBeGreaterThan(0);
    });
  }
});
