/**
 * The cron-singleton example as users run it: three processes of
 * examples/cron-singleton/main.ts against a private redis-server, the leader
 * killed with SIGKILL mid-run. Every scheduled fire in the window must be in
 * the ledger exactly once, with non-decreasing terms. Also runs the
 * zero-install demo as `npm run demo` does.
 */
import { type ChildProcess, execFile, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRunLedger } from '../../examples/cron-singleton/ledger.js';
import { RedisServer, uniqueNamespace } from '../helpers/redis-server.js';

const MAIN = fileURLToPath(
  new URL('../../.build/examples/cron-singleton/main.js', import.meta.url),
);
const DEMO = fileURLToPath(
  new URL('../../.build/examples/cron-singleton/demo.js', import.meta.url),
);
let server: RedisServer;
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await server.stop();
});

type Msg = { type: string; identity?: string; term?: number; fireAt?: number };

describe('examples/cron-singleton', () => {
  it('fires every scheduled second exactly once across a SIGKILL of the leader', async () => {
    const namespace = uniqueNamespace('cron');
    const messages: Msg[] = [];
    const procs = ['a', 'b', 'c'].map((identity) => {
      const child = fork(MAIN, [], {
        env: {
          ...process.env,
          REDIS_URL: server.url,
          IDENTITY: identity,
          NAMESPACE: namespace,
          PATTERN: '* * * * * *',
          TTL_MS: '1500',
          RENEW_MS: '400',
        },
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      children.push(child);
      child.on('message', (m: Msg) => messages.push(m));
      return { identity, child };
    });
    await expect
      .poll(() => messages.filter((m) => m.type === 'ready').length, { timeout: 10_000 })
      .toBe(3);
    await expect
      .poll(() => messages.filter((m) => m.type === 'ran').length, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(2);
    const leader = messages.find((m) => m.type === 'elected')?.identity;
    const victim = procs.find((p) => p.identity === leader);
    expect(victim).toBeDefined();
    victim?.child.kill('SIGKILL');
    const killedAt = Date.now();
    await expect
      .poll(() => messages.filter((m) => m.type === 'elected').length, { timeout: 10_000 })
      .toBe(2);
    await expect.poll(() => Date.now() - killedAt > 3000, { timeout: 10_000 }).toBe(true);
    for (const p of procs) if (p !== victim) p.child.kill('SIGTERM');
    await Promise.all(
      procs
        .filter((p) => p !== victim)
        .map(
          (p) =>
            new Promise((r) => (p.child.exitCode !== null ? r(null) : p.child.once('exit', r))),
        ),
    );

    const client = server.client();
    const entries = await new RedisRunLedger(client, `${namespace}-ledger`).entries('report');
    const first = entries[0]?.fireAt as number;
    const last = entries.at(-1)?.fireAt as number;
    expect(entries.length).toBeGreaterThanOrEqual(5);
    // Every second between the first and the last fire is present once (a hash cannot hold duplicates;
    // the count proves none is missing, including those during the fail-over).
    expect(entries.map((e) => e.fireAt)).toEqual(
      Array.from({ length: (last - first) / 1000 + 1 }, (_, i) => first + i * 1000),
    );
    for (let i = 1; i < entries.length; i++)
      expect(entries[i]?.term).toBeGreaterThanOrEqual(entries[i - 1]?.term as number);
    expect(new Set(entries.map((e) => e.identity)).size).toBeGreaterThanOrEqual(2);
    // The job ran once per fire across all processes.
    const ran = messages.filter((m) => m.type === 'ran').map((m) => m.fireAt);
    expect(new Set(ran).size).toBe(ran.length);
  });

  it('refuses a claim from a stale term at the ledger (fencing at the resource)', async () => {
    const ledger = new RedisRunLedger(server.client(), uniqueNamespace('ledger'));
    expect(await ledger.claim('job', 1000, 7, 'new-leader')).toBe('claimed');
    expect(await ledger.claim('job', 2000, 6, 'old-leader-waking-up')).toBe('stale');
    expect(await ledger.claim('job', 1000, 8, 'another')).toBe('duplicate');
    expect(await ledger.entries('job')).toEqual([
      { fireAt: 1000, term: 7, identity: 'new-leader' },
    ]);
  });

  it('npm run demo: the zero-install demo exits 0 and reports no double fire', async () => {
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>(
      (resolve) => {
        const env: NodeJS.ProcessEnv = { ...process.env, DEMO_SECONDS: '12' };
        delete env['REDIS_URL'];
        execFile(process.execPath, [DEMO], { env, timeout: 60_000 }, (error, stdout) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout }),
        );
      },
    );
    expect(stdout).toContain('double fires: 0');
    expect(stdout).toContain('missed fires: 0');
    expect(stdout).toMatch(/stepped down: deadline/);
    expect(stdout).toMatch(/stepped down: stopped/);
    expect(code).toBe(0);
  }, 60_000);
});
