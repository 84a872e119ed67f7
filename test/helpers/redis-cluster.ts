/**
 * A private Redis Cluster for one test file: `primaries` primaries with one
 * replica each (`redis-cli --cluster create … --cluster-replicas 1`), every
 * node a `redis-server` on a free loopback port with its data in a
 * temporary directory, torn down by `stop()`. `cluster-node-timeout` is
 * 1000 ms so a killed primary's replica is promoted within seconds.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster, type ClusterOptions, Redis } from 'ioredis';
import { freePort, RedisServer } from './redis-server.js';

export const REDIS_CLI_BIN = process.env['TENURE_REDIS_CLI'] ?? 'redis-cli';

export class RedisCluster {
  readonly nodes: RedisServer[];
  readonly #clients = new Set<Cluster>();

  private constructor(nodes: RedisServer[]) {
    this.nodes = nodes;
  }

  static async start(primaries = 3): Promise<RedisCluster> {
    const nodes: RedisServer[] = [];
    try {
      for (let i = 0; i < primaries * 2; i++) {
        nodes.push(
          await RedisServer.start([
            '--cluster-enabled',
            'yes',
            // The bus port is explicit: port + 10000 (the default) may be taken or out of range.
            '--cluster-port',
            String(await freePort()),
            '--cluster-config-file',
            `nodes-${process.pid}-${i}.conf`,
            '--cluster-node-timeout',
            '1000',
            // A replica takes over however long its link was down (tests kill primaries).
            '--cluster-replica-validity-factor',
            '0',
          ]),
        );
      }
      await promisify(execFile)(
        REDIS_CLI_BIN,
        [
          '--cluster',
          'create',
          ...nodes.map((n) => `${n.host}:${n.port}`),
          '--cluster-replicas',
          '1',
          '--cluster-yes',
        ],
        { timeout: 60_000 },
      );
      const cluster = new RedisCluster(nodes);
      await cluster.waitUntilHealthy();
      await cluster.waitUntilReplicated();
      return cluster;
    } catch (error) {
      await Promise.all(nodes.map((n) => n.stop()));
      throw error;
    }
  }

  /** Resolves once every running node reports `cluster_state:ok` and every slot is served. */
  async waitUntilHealthy(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(
        this.nodes
          .filter((n) => n.pid !== undefined)
          .map(async (n) => {
            const c = new Redis({ host: n.host, port: n.port, lazyConnect: true });
            try {
              await c.connect();
              return String(await c.cluster('INFO'));
            } catch {
              return '';
            } finally {
              c.disconnect();
            }
          }),
      );
      if (
        states.every((s) => s.includes('cluster_state:ok') && s.includes('cluster_slots_ok:16384'))
      )
        return;
      if (Date.now() > until) throw new Error(`cluster not healthy: ${states.join(' | ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Resolves once every running primary has an online replica that acknowledged its writes (`WAIT 1`). */
  async waitUntilReplicated(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      let ok = true;
      for (const n of this.nodes.filter((x) => x.pid !== undefined)) {
        const c = new Redis({ host: n.host, port: n.port, lazyConnect: true });
        try {
          await c.connect();
          const info = await c.info('replication');
          if (!info.includes('role:master')) continue;
          if (!/slave\d+:.*state=online/.test(info) || Number(await c.wait(1, 100)) < 1) ok = false;
        } catch {
          ok = false;
        } finally {
          c.disconnect();
        }
      }
      if (ok) return;
      if (Date.now() > until) throw new Error('cluster primaries without an online replica');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** An ioredis Cluster client on every node, closed by `stop()`. */
  client(options: ClusterOptions = {}): Cluster {
    const client = new Cluster(
      this.nodes.map((n) => ({ host: n.host, port: n.port })),
      {
        slotsRefreshTimeout: 2000,
        ...options,
      } as ClusterOptions as never,
    ); // ioredis' overloads and exactOptionalPropertyTypes disagree on `redisOptions`
    client.on('error', () => undefined);
    this.#clients.add(client);
    return client;
  }

  /** The node that is the primary serving `key` now, asked of the running nodes. */
  async primaryOf(key: string): Promise<RedisServer> {
    for (const node of this.nodes.filter((n) => n.pid !== undefined)) {
      const c = new Redis({ host: node.host, port: node.port, lazyConnect: true });
      try {
        await c.connect();
        const slot = Number(await c.cluster('KEYSLOT', key));
        const slots = await c.cluster('SLOTS');
        const owner = slots.find(([from, to]) => slot >= from && slot <= to)?.[2];
        const found = owner && this.nodes.find((n) => n.port === Number(owner[1]));
        if (found) return found;
      } catch {
        // ask the next node
      } finally {
        c.disconnect();
      }
    }
    throw new Error(`no node knows the primary of ${key}`);
  }

  /** `primary` and the nodes that replicate it now (from its CLUSTER NODES). */
  async shardOf(primary: RedisServer): Promise<RedisServer[]> {
    const id = await this.nodeId(primary);
    const c = new Redis({ host: primary.host, port: primary.port, lazyConnect: true });
    try {
      await c.connect();
      const lines = String(await c.cluster('NODES')).split('\n');
      const replicas = lines
        .map((l) => l.split(' '))
        .filter((f) => f[3] === id)
        .map((f) => this.nodes.find((n) => n.port === Number(/:(\d+)@/.exec(f[1] ?? '')?.[1])));
      return [primary, ...replicas.filter((n): n is RedisServer => n !== undefined)];
    } finally {
      c.disconnect();
    }
  }

  /** The cluster node id of `node`. */
  async nodeId(node: RedisServer): Promise<string> {
    const c = new Redis({ host: node.host, port: node.port, lazyConnect: true });
    try {
      await c.connect();
      return String(await c.cluster('MYID'));
    } finally {
      c.disconnect();
    }
  }

  /**
   * `redis-cli --cluster reshard`: moves `slots` slots (with their keys,
   * MIGRATE by MIGRATE) from `from` to `to`, while clients keep running.
   */
  async reshard(from: RedisServer, to: RedisServer, slots: number): Promise<void> {
    await promisify(execFile)(
      REDIS_CLI_BIN,
      [
        '--cluster',
        'reshard',
        `${from.host}:${from.port}`,
        '--cluster-from',
        await this.nodeId(from),
        '--cluster-to',
        await this.nodeId(to),
        '--cluster-slots',
        String(slots),
        '--cluster-yes',
      ],
      { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
    );
  }

  /**
   * Starts moving the slot of `key` from its primary to `to` the way
   * `redis-cli --cluster reshard` does (`SETSLOT IMPORTING` / `MIGRATING`,
   * then `MIGRATE` of `keys`), and stops there: the slot stays in migration,
   * so the source answers `ASK` for the keys that moved. Returns the slot.
   */
  async beginMigration(key: string, to: RedisServer, keys: string[]): Promise<number> {
    const from = await this.primaryOf(key);
    const source = from.client();
    const target = to.client();
    try {
      const slot = Number(await source.cluster('KEYSLOT', key));
      await target.cluster('SETSLOT', slot, 'IMPORTING', await this.nodeId(from));
      await source.cluster('SETSLOT', slot, 'MIGRATING', await this.nodeId(to));
      await source.call('MIGRATE', to.host, String(to.port), '', '0', '5000', 'KEYS', ...keys);
      return slot;
    } finally {
      source.disconnect();
      target.disconnect();
    }
  }

  /**
   * Ends a migration begun by `beginMigration`: the source (the slot's
   * primary before) and `to` assign `slot` to `to`; the other nodes learn it
   * by gossip (`to` bumps its config epoch).
   */
  async finishMigration(slot: number, from: RedisServer, to: RedisServer): Promise<void> {
    const id = await this.nodeId(to);
    for (const node of [to, from]) {
      const c = node.client();
      try {
        await c.cluster('SETSLOT', slot, 'NODE', id);
      } finally {
        c.disconnect();
      }
    }
  }

  /** The number of slots `node` serves. */
  async slotCount(node: RedisServer): Promise<number> {
    const c = new Redis({ host: node.host, port: node.port, lazyConnect: true });
    try {
      await c.connect();
      const id = String(await c.cluster('MYID'));
      const slots = await c.cluster('SLOTS');
      return slots
        .filter(([, , owner]) => (owner as unknown as unknown[])[2] === id)
        .reduce((n, [a, b]) => n + Number(b) - Number(a) + 1, 0);
    } finally {
      c.disconnect();
    }
  }

  /** SIGKILLs every node (the whole cluster down). */
  async killAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill()));
  }

  /**
   * Starts every node again (same ports; each reloads its nodes.conf, but
   * no data: the test nodes keep nothing on disk) and waits for the cluster.
   */
  async restartAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.restart()));
    await this.waitUntilHealthy();
  }

  async stop(): Promise<void> {
    for (const client of this.#clients) client.disconnect();
    this.#clients.clear();
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}
