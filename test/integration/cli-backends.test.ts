/**
 * The `tenure` binary on every store URL scheme, each against its own
 * private servers: PostgreSQL (`postgres://`, exit 78 before `tenure init`), a
 * 3-member etcd cluster (`etcd://a,b,c`), Redis Sentinel
 * (`redis+sentinel://…/<master>`) and Redis Cluster (`redis+cluster://…`).
 * Per backend: `lock` runs a command with its term; `status --json` shows a
 * held lock with its data; SIGTERM to `lock` stops the command and
 * releases; two `run` instances hand over within a fraction of the lease.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, startCli } from '../helpers/cli.js';
import { EtcdCluster } from '../helpers/etcd-cluster.js';
import { PostgresServer } from '../helpers/postgres-server.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { MASTER_NAME, RedisSentinelGroup } from '../helpers/redis-sentinel.js';

interface Backend {
  readonly name: string;
  start(): Promise<{ url: string; stop(): Promise<void> }>;
  readonly init?: boolean;
}

const BACKENDS: Backend[] = [
  {
    name: 'postgres',
    init: true,
    async start() {
      const pg = await PostgresServer.start();
      return {
        url: `postgres://${pg.user}@${pg.host}:${pg.port}/${pg.database}`,
        stop: () => pg.stop(),
      };
    },
  },
  {
    name: 'etcd',
    async start() {
      const etcd = await EtcdCluster.start();
      return {
        url: `etcd://${etcd.endpoints.map((e) => e.replace(/^http:\/\//, '')).join(',')}`,
        stop: () => etcd.stop(),
      };
    },
  },
  {
    name: 'sentinel',
    async start() {
      const group = await RedisSentinelGroup.start();
      return {
        url: `redis+sentinel://${group.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}/${MASTER_NAME}`,
        stop: () => group.stop(),
      };
    },
  },
  {
    name: 'cluster',
    async start() {
      const cluster = await RedisCluster.start();
      return {
        url: `redis+cluster://${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`,
        stop: () => cluster.stop(),
      };
    },
  },
];

describe.each(BACKENDS)('tenure on $name', (backend) => {
  let env: Record<string, string>;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    const started = await backend.start();
    stop = () => started.stop();
    env = { TENURE_STORE: started.url, TENURE_NAMESPACE: `cli_${backend.name}` };
    if (backend.init) {
      // Before `tenure init`: the missing table is a configuration error (78) that says what to run.
      const before = await cli(['status'], env);
      expect(before.stderr).toMatch(
        /lease table cli_postgres_leases does not exist: run `tenure init`/,
      );
      expect(before.code, before.stderr).toBe(78);
      const init = await cli(['init'], env);
      expect(init.stderr).toMatch(/lease table cli_postgres_leases is ready/);
      expect(init.code).toBe(0);
    }
  }, 60_000);
  afterAll(async () => {
    await stop();
  });

  it('lock, status and SIGTERM', async () => {
    const once = await cli(['lock', 'once', '--', 'sh', '-c', 'echo "term=$TENURE_TERM"'], env);
    expect(once.stderr).toMatch(/acquired once/);
    expect(once.code, once.stderr).toBe(0);
    expect(Number(/term=(\d+)/.exec(once.stdout)?.[1])).toBeGreaterThan(0);

    const held = startCli(['lock', 'held', '--data', '{"k":1}', '--', 'sleep', '30'], env);
    try {
      const [, term] = await held.waitFor(/acquired held \(term=(\d+)\)/);
      await held.waitFor(/started|acquired/);
      const status = await cli(['status', '--json'], env);
      expect(status.code, status.stderr).toBe(0);
      const leases = (
        JSON.parse(status.stdout) as { leases: { name: string; term: number; data: unknown }[] }
      ).leases;
      expect(leases).toEqual([
        expect.objectContaining({ name: 'held', term: Number(term), data: { k: 1 } }),
      ]);
      expect(await held.stop('SIGTERM'), held.stderr).toBe(143); // sleep's status: killed by SIGTERM
      expect(JSON.parse((await cli(['status', '--json'], env)).stdout)).toMatchObject({
        leases: [],
      });
    } finally {
      await held.stop('SIGKILL');
    }
  });

  it('run: one instance runs the command; SIGTERM hands it over before the lease expires', async () => {
    const args = ['run', 'svc', '--lease-ms', '6000', '--', 'sleep', '30'];
    const a = startCli(args, env);
    const b = startCli(args, env);
    try {
      const first = await Promise.race([
        a.waitFor(/started sleep/).then(() => a),
        b.waitFor(/started sleep/).then(() => b),
      ]);
      const second = first === a ? b : a;
      await new Promise((r) => setTimeout(r, 500));
      expect(second.stderr).not.toMatch(/started sleep/);
      const stoppedAt = Date.now();
      expect(await first.stop('SIGTERM')).toBe(0);
      await second.waitFor(/started sleep/, 10_000);
      expect(Date.now() - stoppedAt).toBeLessThan(3_000);
      expect(await second.stop('SIGTERM')).toBe(0);
    } finally {
      await Promise.all([a.stop('SIGKILL'), b.stop('SIGKILL')]);
    }
  });
});
