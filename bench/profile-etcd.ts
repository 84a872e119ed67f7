/**
 * The etcd lock cycle, taken apart: on one private 3-member cluster, the store
 * alone vs Locker.tryLock + release, sequential, in alternating rounds, with
 * wall time, client CPU and the gRPC requests the members started per cycle,
 * by method (from their /metrics). Not part of `npm run bench`; a tool for
 * finding where a cycle's time goes. Usage:
 * `npm run build:examples && node .build/bench/profile-etcd.js [cycles]`
 */
import { EtcdLeaseStore } from '../src/lock/etcd/etcd-store.js';
import { Locker } from '../src/lock/locker.js';
import { OwnershipToken } from '../src/lock/ownership-token.js';
import { EtcdCluster } from '../test/helpers/etcd-cluster.js';

const cycles = Number(process.argv[2] ?? 300);
const cluster = await EtcdCluster.start();
try {
  const client = cluster.client();
  const store = new EtcdLeaseStore({ client, prefix: 'p/' });
  const locker = new Locker(store);
  let n = 0;
  const runs: Record<string, () => Promise<void>> = {
    store: async () => {
      const name = `s${n++}`;
      const token = OwnershipToken.generate();
      const g = await store.acquire({ name, token, ttlMs: 10_000, identity: 'b', data: '' });
      if (!g.acquired) throw new Error('no');
      await store.release({ name, token, term: g.term });
    },
    locker: async () => {
      const lock = await locker.tryLock(`l${n++}`, { ttlMs: 10_000 });
      if (!lock) throw new Error('no');
      await lock.release();
    },
  };
  for (let round = 0; round < 3; round++) {
    for (const [label, run] of Object.entries(runs)) {
      const before = await grpcCalls(cluster);
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      for (let i = 0; i < cycles; i++) await run();
      const c = process.cpuUsage(c0);
      const t = performance.now() - t0;
      const after = await grpcCalls(cluster);
      const per = [...after]
        .map(([m, n]) => `${m}=${((n - (before.get(m) ?? 0)) / cycles).toFixed(2)}`)
        .filter((x) => !x.endsWith('=0.00'));
      console.log(
        `${label}: ${(t / cycles).toFixed(2)} ms/cycle, client CPU ${((c.user + c.system) / 1000 / cycles).toFixed(2)} ms/cycle; per cycle: ${per.join(' ')}`,
      );
    }
  }
  await store.close();
} finally {
  await cluster.stop();
}

async function grpcCalls(c: EtcdCluster): Promise<Map<string, number>> {
  const total = new Map<string, number>();
  for (const m of c.members) {
    const text = await (await fetch(`${m.endpoint}/metrics`)).text();
    for (const line of text.split('\n')) {
      const hit = /^grpc_server_started_total\{grpc_method="(\w+)",[^}]*\} (\d+)/.exec(line);
      if (hit) total.set(hit[1] as string, (total.get(hit[1] as string) ?? 0) + Number(hit[2]));
    }
  }
  return total;
}
