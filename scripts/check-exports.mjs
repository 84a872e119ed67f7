// Packs the package as npm would publish it and checks that a consumer can
// import it (ESM, through the `exports` map) and type-check against it with
// `moduleResolution: nodenext`. Run after `npm run build`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const work = mkdtempSync(join(tmpdir(), 'tenure-exports-'));
try {
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: root,
      encoding: 'utf8',
    }),
  );
  const tarball = join(work, packed[0].filename);
  const files = packed[0].files.map((f) => f.path);
  for (const required of [
    'dist/index.js',
    'dist/index.d.ts',
    'dist/prometheus.js',
    'dist/prometheus.d.ts',
    'dist/http.js',
    'dist/http.d.ts',
    'dist/postgres.js',
    'dist/postgres.d.ts',
    'dist/postgres/schema.sql',
    'dist/etcd.js',
    'dist/etcd.d.ts',
    'dist/cli/main.js',
    'dist/cli/supervisor.js',
    'package.json',
    'README.md',
    'LICENSE',
  ]) {
    if (!files.includes(required)) throw new Error(`packed tarball lacks ${required}`);
  }
  const leaked = files.filter((f) => /^(test|src|bench|examples)\//.test(f));
  if (leaked.length > 0)
    throw new Error(`packed tarball ships development files: ${leaked.join(', ')}`);

  const consumer = join(work, 'consumer');
  const modules = join(consumer, 'node_modules');
  mkdirSync(join(modules, 'tenure'), { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', join(modules, 'tenure'), '--strip-components=1']);
  for (const dep of ['eventemitter3', 'ioredis', 'prom-client', '@types', 'etcd3'])
    symlinkSync(join(root, 'node_modules', dep), join(modules, dep));
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', type: 'module', private: true }),
  );
  writeFileSync(
    join(consumer, 'use.ts'),
    `import { Elector, Locker, MemoryLeaseStore, RedisLeaseStore, TenureError, type LockOptions } from 'tenure';
import { serveElection } from 'tenure/http';
import { prometheusMetrics } from 'tenure/prometheus';
import { Registry } from 'prom-client';
import { Redis } from 'ioredis';
import { PostgresLeaseStore, type LeaseRecord } from 'tenure/postgres';
import pg from 'pg';
import { EtcdLeaseStore, type EtcdLeaseStoreOptions } from 'tenure/etcd';
import { Etcd3 } from 'etcd3';
const registry = new Registry();
const elector = new Elector({ store: new MemoryLeaseStore(), election: 'e', metrics: prometheusMetrics({ registry }) });
await elector.start();
const http = await serveElection({ elector, registry });
await http.close();
await elector.stop();
const options: LockOptions = { ttlMs: 1000 };
const locker = new Locker(new MemoryLeaseStore());
const lock = await locker.lock('x', options);
const token: number = lock.term;
await lock.release();
const client = new Redis({ lazyConnect: true });
new RedisLeaseStore({ client });
const pgStore = new PostgresLeaseStore({ pool: new pg.Pool(), listen: { host: '127.0.0.1' } });
const record: LeaseRecord | null = await pgStore.inspect('x').catch(() => null);
const etcdOptions: EtcdLeaseStoreOptions = { client: new Etcd3({ hosts: '127.0.0.1:1' }), prefix: 'app/' };
await new EtcdLeaseStore(etcdOptions).close();
console.log(token > 0, record?.term, new TenureError('TENURE_INTERNAL', 'x') instanceof Error);
`,
  );
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        strict: true,
        noEmit: true,
        types: ['node'],
        lib: ['es2023', 'esnext.disposable'],
      },
      files: ['use.ts'],
    }),
  );
  execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', consumer], { stdio: 'inherit' });
  // At run time the optional peers are absent (pg was never linked): each entry point must
  // load without the driver it only takes from the caller.
  rmSync(join(modules, 'etcd3'));
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "import * as t from 'tenure'; import { PostgresLeaseStore } from 'tenure/postgres'; import { EtcdLeaseStore } from 'tenure/etcd'; import { createRequire } from 'node:module'; import { existsSync } from 'node:fs'; const l = new t.Locker(new t.MemoryLeaseStore()); const k = await l.lock('x'); console.log(typeof t.RedisLeaseStore, typeof PostgresLeaseStore, typeof EtcdLeaseStore, k.term > 0, existsSync(createRequire(import.meta.url).resolve('tenure/postgres/schema.sql'))); await k.release();",
    ],
    { cwd: consumer, encoding: 'utf8' },
  ).trim();
  if (out !== 'function function function true true')
    throw new Error(`unexpected output from the consumer: ${out}`);
  // The `tenure` command: declared as the package's bin, runnable, and clear about a missing
  // client package (pg was never linked, etcd3 was just removed).
  const pkg = JSON.parse(readFileSync(join(modules, 'tenure', 'package.json'), 'utf8'));
  const bin = join(modules, 'tenure', pkg.bin?.tenure ?? 'missing');
  if (!readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n'))
    throw new Error(`the tenure bin (${pkg.bin?.tenure}) lacks its #! line`);
  const version = execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).trim();
  if (version !== pkg.version) throw new Error(`tenure --version printed ${version}`);
  for (const [url, needs] of [
    ['postgres://127.0.0.1:1/x', 'pg'],
    ['etcd://127.0.0.1:1', 'etcd3'],
  ]) {
    let failure;
    try {
      execFileSync(process.execPath, [bin, 'status', '--store', url], { stdio: 'pipe' });
    } catch (error) {
      failure = error;
    }
    if (failure?.status !== 69 || !String(failure.stderr).includes(`npm install ${needs}`))
      throw new Error(
        `tenure status on ${url} without ${needs}: ${failure?.status} ${failure?.stderr}`,
      );
  }
  console.log(
    `exports ok: ${files.length} files packed, ESM import and nodenext type-check pass, the tenure bin runs`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
