/**
 * The etcd section of `npm run bench` (`--only etcd`): against one private
 * 3-member etcd cluster, tenure side by side with etcd3's own `Lock` and
 * `Election` and a raw etcd3 baseline. Lock cycles in interleaved rounds;
 * graceful hand-over (tenure `Elector.resign()` vs etcd3
 * `Campaign.resign()`); crash fail-over after SIGKILL of the leader process;
 * a follower's idle cost in gRPC messages the cluster receives per lease
 * period; and a pause test (the leader process SIGSTOPped past its ttl: what
 * does it believe on waking?). Numbers, not verdicts.
 */
import { randomBytes } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { Elector } from '../src/index.js';
import { EtcdLeaseStore } from '../src/lock/etcd/etcd-store.js';
import { EtcdCluster } from '../test/helpers/etcd-cluster.js';
import { WorkerProcess } from '../test/helpers/worker-process.js';
import { crashFailover } from './failover.js';
import { type CycleImpl, tenureCycles, median, percentile, lockCycleTables } from './harness.js';
import { fileURLToPath } from 'node:url';

export interface EtcdBenchOptions {
  readonly rounds: number;
  readonly durationMs: number;
  readonly handovers: number;
  readonly idleMs: number;
  readonly kills: number;
  readonly out: (line?: string) => void;
}

const ETCD3_WORKER = fileURLToPath(new URL('./etcd3-election-worker.js', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ms = (from: bigint, to: bigint): number => Number(to - from) / 1e6;

export async function etcdBench(o: EtcdBenchOptions): Promise<Record<string, unknown>> {
  const cluster = await EtcdCluster.start();
  const results: Record<string, unknown> = {};
  try {
    const client = cluster.client();
    const version = (await client.maintenance.status()).version;
    const store = new EtcdLeaseStore({ client, prefix: 'bench/' });
    const impls: CycleImpl[] = [
      {
        name: 'raw etcd3 (lease grant, txn create-if-absent, txn delete; revoke not awaited)',
        async cycle(name) {
          const key = Buffer.from(`raw/${name}`);
          const value = Buffer.from(randomBytes(16).toString('base64url'));
          const { ID } = await client.leaseClient.leaseGrant({ TTL: 10 });
          const won = await client.kv.txn({
            compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
            success: [{ request_put: { key, value, lease: ID } }],
            failure: [],
          });
          if (won.succeeded) {
            await client.kv.txn({
              compare: [{ key, target: 'Value', result: 'Equal', value }],
              success: [{ request_delete_range: { key } }],
              failure: [],
            });
          }
          void client.leaseClient.leaseRevoke({ ID }).catch(() => undefined);
          return won.succeeded;
        },
      },
      ...tenureCycles(store, 10_000, 'EtcdLeaseStore'),
      {
        name: "etcd3 1.1.2 Lock (acquire + release: its lease's grant and revoke)",
        async cycle(name) {
          const lock = client.lock(`etcd3lock/${name}`).ttl(10);
          await lock.acquire();
          await lock.release();
          return true;
        },
      },
    ];
    o.out(
      `\n## etcd\n\netcd ${version}, 3 members on 127.0.0.1 (private cluster, heartbeat 25 ms, election timeout 250 ms, fsync off), etcd3 1.1.2; ${o.rounds} interleaved rounds of ${o.durationMs} ms each.`,
    );
    Object.assign(
      results,
      await lockCycleTables(impls, {
        label: 'etcd',
        baseline: 'raw etcd3',
        where: 'one client',
        rounds: o.rounds,
        durationMs: o.durationMs,
        out: o.out,
      }),
    );

    results['etcd 3. Graceful hand-over'] = await handOver(cluster, o);
    results['etcd 4. Crash fail-over'] = await failover(cluster, o);
    results['etcd 5. Idle follower cost'] = await idleCost(cluster, o);
    results['etcd 6. Pause past the ttl'] = await pause(cluster, o);
    await store.close();
  } finally {
    await WorkerProcess.killAll();
    await cluster.stop();
  }
  return results;
}

/** resign() of the leader to `elected` of the waiting one, in one process, alternating. */
async function handOver(cluster: EtcdCluster, o: EtcdBenchOptions) {
  const tenure: number[] = [];
  {
    const clients = [cluster.client(), cluster.client()];
    const electors = clients.map(
      (client, i) =>
        new Elector({
          store: new EtcdLeaseStore({ client, prefix: 'handover/' }),
          election: 'h',
          identity: `e${i}`,
          ttlMs: 10_000,
          retryMs: 50,
          retryJitterMs: 0,
        }),
    );
    for (const e of electors) await e.start();
    for (let i = 0; i < o.handovers; i++) {
      const leader = electors.find((e) => e.isLeader);
      const other = electors.find((e) => e !== leader);
      if (!leader || !other) throw new Error('hand-over bench: no leader');
      const elected = new Promise<bigint>((resolve) =>
        other.once('elected', () => resolve(process.hrtime.bigint())),
      );
      const t0 = process.hrtime.bigint();
      await leader.resign();
      tenure.push(ms(t0, await elected));
      await sleep(60); // the resigner's sit-out (retryMs) ends; it waits again
    }
    for (const e of electors) await e.stop();
  }
  const etcd3: number[] = [];
  {
    const client = cluster.client();
    const election = client.election('etcd3-handover', 10);
    let leader = election.campaign('a');
    await new Promise((resolve) => leader.once('elected', resolve));
    for (let i = 0; i < o.handovers; i++) {
      const next = election.campaign(i % 2 ? 'a' : 'b');
      await sleep(20); // the waiter's key and watch are in place
      const elected = new Promise<bigint>((resolve) =>
        next.once('elected', () => resolve(process.hrtime.bigint())),
      );
      const t0 = process.hrtime.bigint();
      await leader.resign();
      etcd3.push(ms(t0, await elected));
      leader = next;
    }
    await leader.resign();
  }
  const row = (name: string, v: number[]) =>
    o.out(
      `| ${name} | ${v.length} | ${percentile(v, 50).toFixed(2)} | ${percentile(v, 99).toFixed(2)} |`,
    );
  o.out('\n### etcd 3. Graceful hand-over: resign() to the next `elected`, in one process\n');
  o.out('| elector | hand-overs | p50 ms | p99 ms |');
  o.out('| --- | ---: | ---: | ---: |');
  row('tenure Elector', tenure);
  row('etcd3 1.1.2 Election', etcd3);
  return {
    tenure: { p50: percentile(tenure, 50), p99: percentile(tenure, 99) },
    etcd3: { p50: percentile(etcd3, 50), p99: percentile(etcd3, 99) },
  };
}

async function failover(cluster: EtcdCluster, o: EtcdBenchOptions) {
  const ttlMs = 2000;
  const times = await crashFailover({
    port: 0,
    kills: o.kills,
    ttlMs,
    renewMs: 500,
    etcd: cluster.endpoints,
  });
  o.out(
    `\n### etcd 4. Crash fail-over: SIGKILL of the leader process to the next \`elected\` (3 processes, ttl ${ttlMs} ms; etcd3 ttl ${ttlMs / 1000} s)\n`,
  );
  o.out('| elector | kills | p50 ms | max ms |');
  o.out('| --- | ---: | ---: | ---: |');
  for (const kind of ['tenure', 'etcd3'] as const)
    o.out(
      `| ${kind === 'tenure' ? 'tenure Elector' : 'etcd3 1.1.2 Election'} | ${times[kind].length} | ${median(times[kind]).toFixed(0)} | ${Math.max(...times[kind]).toFixed(0)} |`,
    );
  return { tenure: times.tenure, etcd3: times.etcd3 };
}

/** gRPC messages the cluster received, summed over every member (`grpc_server_msg_received_total`). */
async function messages(cluster: EtcdCluster): Promise<number> {
  let total = 0;
  for (const endpoint of cluster.endpoints) {
    const text = await (await fetch(`${endpoint}/metrics`)).text();
    for (const line of text.split('\n'))
      if (line.startsWith('grpc_server_msg_received_total{'))
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/**
 * One leader alone for `idleMs`, then the leader with 5 followers: the
 * followers' share of the cluster's received messages, per follower per
 * lease period (ttl 2 s).
 */
async function idleCost(cluster: EtcdCluster, o: EtcdBenchOptions) {
  const ttlMs = 2000;
  const followers = 5;
  const fleetOf = async (
    kind: 'tenure' | 'etcd3',
    size: number,
  ): Promise<{ stop: () => Promise<void> }> => {
    const clients: Etcd3[] = [];
    const stops: (() => Promise<unknown>)[] = [];
    const election = `idle-${kind}-${size}-${Date.now()}`;
    for (let i = 0; i < size; i++) {
      const client = cluster.client();
      clients.push(client);
      if (kind === 'tenure') {
        const e = new Elector({
          store: new EtcdLeaseStore({ client, prefix: 'idle/' }),
          election,
          identity: `e${i}`,
          ttlMs,
          renewMs: Math.round(ttlMs / 3),
        });
        await e.start();
        stops.push(() => e.stop());
      } else {
        const campaign = client.election(election, ttlMs / 1000).campaign(`e${i}`);
        if (i === 0) await new Promise((resolve) => campaign.once('elected', resolve));
        stops.push(() => campaign.resign().catch(() => undefined));
      }
    }
    return {
      stop: async () => {
        for (const stop of stops) await stop();
        for (const c of clients) c.close();
      },
    };
  };
  const measureFleet = async (kind: 'tenure' | 'etcd3', size: number): Promise<number> => {
    const fleet = await fleetOf(kind, size);
    await sleep(ttlMs); // settled
    const before = await messages(cluster);
    await sleep(o.idleMs);
    const after = await messages(cluster);
    await fleet.stop();
    return after - before;
  };
  const periods = o.idleMs / ttlMs;
  const out: Record<string, unknown> = {};
  o.out(
    `\n### etcd 5. Idle follower cost: gRPC messages the cluster received per follower per lease period (ttl ${ttlMs} ms, leader + ${followers} followers vs leader alone, ${o.idleMs / 1000} s)\n`,
  );
  o.out('| elector | leader alone, per period | each follower, per period |');
  o.out('| --- | ---: | ---: |');
  for (const kind of ['tenure', 'etcd3'] as const) {
    const alone = await measureFleet(kind, 1);
    const all = await measureFleet(kind, 1 + followers);
    const perFollower = (all - alone) / followers / periods;
    out[kind] = { leaderPerPeriod: alone / periods, followerPerPeriod: perFollower };
    o.out(
      `| ${kind === 'tenure' ? 'tenure Elector (renewMs = ttl/3)' : 'etcd3 1.1.2 Election (keep-alive every ttl/3)'} | ${(alone / periods).toFixed(2)} | ${perFollower.toFixed(2)} |`,
    );
  }
  return out;
}

/**
 * Three processes; the leader is SIGSTOPped for 1.5 × ttl, then continued:
 * what it believes at once (the SIGCONT handler runs before any timer), how
 * long until it reports the loss, and whether another process was elected
 * meanwhile (then two processes believed they led at once).
 */
async function pause(cluster: EtcdCluster, o: EtcdBenchOptions) {
  const ttlMs = 2000;
  const result: Record<string, unknown> = {};
  o.out(
    `\n### etcd 6. The leader process SIGSTOPped for 1.5 × ttl (ttl ${ttlMs} ms), then SIGCONT\n`,
  );
  o.out(
    '| elector | another elected meanwhile | leader on waking (first check) | loss reported after SIGCONT |',
  );
  o.out('| --- | :---: | :---: | ---: |');
  for (const kind of ['tenure', 'etcd3'] as const) {
    const prefix = `pause-${kind}-${Date.now()}/`;
    const workers = [0, 1, 2].map(
      (i) =>
        new WorkerProcess(
          {
            port: 0,
            etcd: cluster.endpoints,
            namespace: prefix,
            election: 'p',
            identity: `${kind}-${i}`,
            ttlMs,
            renewMs: Math.round(ttlMs / 3),
            retryMs: 500,
            retryJitterMs: 20,
          },
          kind === 'etcd3' ? ETCD3_WORKER : undefined,
        ),
    );
    await Promise.all(workers.map((w) => w.next((m) => m.ev === 'ready')));
    const deadline = Date.now() + 10_000;
    let leader: WorkerProcess | undefined;
    while (!(leader = workers.find((w) => w.isLeader)) && Date.now() < deadline) await sleep(10);
    if (!leader) throw new Error(`pause bench: no ${kind} leader`);
    await sleep(ttlMs / 2);
    const mark = leader.messages.length;
    const others = workers.filter((w) => w !== leader);
    const otherMarks = others.map((w) => w.messages.length);
    leader.signal('SIGSTOP');
    await sleep(1.5 * ttlMs);
    const continued = process.hrtime.bigint();
    leader.signal('SIGCONT');
    const probe = (await leader.next((m) => m.ev === 'probe', 5000, mark)) as {
      isLeader: boolean;
    };
    const revoked = await leader
      .next((m) => m.ev === 'revoked', 3 * ttlMs, mark)
      .then((m) => ms(continued, m.at))
      .catch(() => null);
    const otherElected = others.some((w, i) =>
      w.messages.slice(otherMarks[i]).some((m) => m.ev === 'elected'),
    );
    result[kind] = { otherElected, leaderOnWaking: probe.isLeader, lossReportedMs: revoked };
    o.out(
      `| ${kind === 'tenure' ? 'tenure Elector' : 'etcd3 1.1.2 Election'} | ${otherElected ? 'yes' : 'no'} | ${probe.isLeader ? '**yes**' : 'no'} | ${revoked === null ? 'never (within 3 × ttl)' : `${revoked.toFixed(0)} ms`} |`,
    );
    await Promise.all(workers.map((w) => w.stop()));
  }
  return result;
}
