/**
 * `npm run bench` (`-- --quick` for the CI smoke run): tenure side by side with
 * the Node lock libraries and a raw-ioredis baseline, against one private
 * redis-server, in interleaved rounds; medians and ratios. Also the elector's
 * graceful hand-over and crash fail-over latency, contention, a follower's idle cost and fleet scale. Prints Markdown and
 * writes bench/results/latest.json. No assertions: numbers, not verdicts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { Elector, RedisLeaseStore } from '../src/index.js';
import { RedisServer } from '../test/helpers/redis-server.js';
import { contend, contenders } from './contention.js';
import { crashFailover } from './failover.js';
import { type FleetResult, fleetElectors, fleetLocks } from './fleet.js';
import { etcdBench } from './etcd.js';
import { postgresBench } from './postgres.js';
import { handovers, redisTopologiesBench } from './redis-topologies.js';
import {
  concurrently,
  forDuration,
  measure,
  median,
  percentile,
  type Sample,
  scriptCalls,
  stats,
  type Stats,
} from './harness.js';
import {
  type Impl,
  raw,
  redisSemaphore,
  redlock,
  redlockUniversal,
  sesameRedlock,
  tenure,
} from './implementations.js';

const quick = process.argv.includes('--quick');
// `--only 3,4`: run only these scenarios (1, 2, ap, resp2, 3, 4, 5, 6, 7, pg, etcd, ha: Sentinel and Cluster).
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt > 0 ? new Set((process.argv[onlyAt + 1] ?? '').split(',')) : undefined;
const want = (scenario: string): boolean => only === undefined || only.has(scenario);
const ROUNDS = quick ? 2 : 5;
const DURATION = quick ? 200 : 2000;
const HANDOVERS = quick ? 5 : 200; // p99 needs at least 100 samples to differ from the max
const IDLE_MS = quick ? 3000 : 60_000;
const KILLS = quick ? 2 : 20;
const FLEET = quick
  ? { electors: 100, locks: 1000, windowMs: 2000 }
  : { electors: 1000, locks: 10_000, windowMs: 30_000 };

const server = await RedisServer.start();
const admin = server.client();
const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? '?';
const lines: string[] = [];
const out = (s = ''): void => {
  console.log(s);
  lines.push(s);
};
const results: Record<string, unknown> = {};

async function compare(
  title: string,
  protocol: 2 | 3,
  makeImpls: (client: Redis) => Promise<Impl[]>,
  loop: (impl: Impl, round: number) => Promise<number>,
  enableAutoPipelining = false,
) {
  failures.clear();
  const client = new Redis({
    host: '127.0.0.1',
    port: server.port,
    protocol,
    enableAutoPipelining,
  });
  const impls = await makeImpls(client);
  const samples = new Map<string, Sample[]>(impls.map((i) => [i.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const impl of round % 2 ? [...impls].reverse() : impls) {
      samples.get(impl.name)?.push(await measure(admin, () => loop(impl, round)));
    }
  }
  const table = impls.map((i) => ({ name: i.name, ...stats(samples.get(i.name) ?? []) }));
  const base = table[0] as Stats & { name: string };
  out(`\n### ${title}\n`);
  out(
    '| implementation | cycles/s (median) | ratio to raw | client CPU µs/cycle | server CPU µs/cycle | Redis commands/cycle | cycles that did not acquire |',
  );
  out('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const row of table) {
    out(
      `| ${row.name} | ${row.perSecond.toFixed(0)} | ${(row.perSecond / base.perSecond).toFixed(2)} | ${row.clientCpuUsPerCycle.toFixed(1)} | ${row.serverCpuUsPerCycle.toFixed(1)} | ${row.commandsPerCycle.toFixed(2)} | ${failures.get(row.name) ?? 0} |`,
    );
  }
  results[title] = table;
  client.disconnect();
}

const everyone = async (client: Redis): Promise<Impl[]> => [
  await raw(client),
  tenure(client, 'bench'),
  redlock(client),
  sesameRedlock(client),
  redisSemaphore(client),
  redlockUniversal(client),
];
const tenureVsRaw = async (client: Redis): Promise<Impl[]> => [
  await raw(client),
  tenure(client, 'bench'),
];
// A cycle that did not acquire (an error or a refusal) would inflate cycles/s: count them.
const failures = new Map<string, number>();
const cycle = async (impl: Impl, key: string): Promise<void> => {
  if (!(await impl.cycle(key))) failures.set(impl.name, (failures.get(impl.name) ?? 0) + 1);
};
const sequential = (impl: Impl, round: number) =>
  forDuration(DURATION, (i) => cycle(impl, `s1-${impl.name.length}-${round}-${i}`));
const concurrent64 = (impl: Impl) =>
  concurrently(64, DURATION, (w) => cycle(impl, `s2-${impl.name.length}-${w}`));

out(
  `## Results\n\nRedis ${version} on 127.0.0.1, ioredis 6.0.0, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; ${ROUNDS} interleaved rounds of ${DURATION} ms each${quick ? ' (quick mode: smoke only, not representative)' : ''}.`,
);
if (want('1'))
  await compare('1. Sequential acquire + release on fresh keys (RESP3)', 3, everyone, sequential);
if (want('2'))
  await compare(
    '2. 64 concurrent workers on one connection, own keys (RESP3)',
    3,
    everyone,
    concurrent64,
  );
if (want('ap'))
  await compare(
    '2b. 64 concurrent workers on one connection with `enableAutoPipelining: true`, own keys (RESP3)',
    3,
    everyone,
    concurrent64,
    true,
  );
if (want('resp2')) {
  await compare('RESP2: sequential acquire + release on fresh keys', 2, tenureVsRaw, sequential);
  await compare('RESP2: 64 concurrent workers on one connection', 2, tenureVsRaw, concurrent64);
}

// 3. Contention: 16 workers, one key, retries; starvation, hand-offs and what each acquisition costs.
if (want('3')) {
  type ContentionRound = {
    perSecond: number;
    min: number;
    mean: number;
    max: number;
    handoffs: number;
    timeouts: number;
    clientCpuUs: number;
    serverCpuUs: number;
    sent: number;
    executed: number;
  };
  const rows = new Map(contenders.map((c) => [c.name, [] as ContentionRound[]]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of round % 2 ? [...contenders].reverse() : contenders) {
      let r: Awaited<ReturnType<typeof contend>> | undefined;
      const sample = await measure(admin, async () => {
        r = await contend(c, server.port, 16, DURATION, `s3-${round}-${c.name.length}`);
        return r.acquisitions;
      });
      if (!r) continue;
      const n = Math.max(1, r.acquisitions);
      rows.get(c.name)?.push({
        perSecond: (r.acquisitions * 1000) / r.wallMs,
        min: Math.min(...r.perWorker),
        mean: r.acquisitions / r.perWorker.length,
        max: Math.max(...r.perWorker),
        handoffs: (r.handoffs * 1000) / r.wallMs,
        timeouts: r.timeouts,
        clientCpuUs: r.clientCpuUs / n,
        serverCpuUs: sample.serverCpuUs / n,
        sent: r.sent / n,
        // INFO commandstats also counts the measurement's own INFO calls: excluded there.
        executed: sample.serverCommands / n,
      });
    }
  }
  out(
    '\n### 3. 16 workers contending for one key (own connection each, hold 1 ms, retry 10 ± 5 ms, give up after 500 ms)\n',
  );
  out(
    '| implementation | acquisitions/s (median) | hand-offs/s | fewest per worker / mean (worst round) | give-ups (all rounds) | client CPU µs/acq | Redis CPU µs/acq | commands sent/acq | commands executed/acq |',
  );
  out('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const table: Record<string, unknown> = {};
  for (const [name, rs] of rows) {
    const m = (f: (r: ContentionRound) => number): number => median(rs.map(f));
    const worst = rs.reduce((a, b) => (b.min / b.mean < a.min / a.mean ? b : a));
    const timeouts = rs.reduce((a, r) => a + r.timeouts, 0);
    out(
      `| ${name} | ${m((r) => r.perSecond).toFixed(0)} | ${m((r) => r.handoffs).toFixed(0)} | ${worst.min} / ${worst.mean.toFixed(1)} | ${timeouts} | ${m((r) => r.clientCpuUs).toFixed(0)} | ${m((r) => r.serverCpuUs).toFixed(0)} | ${m((r) => r.sent).toFixed(1)} | ${m((r) => r.executed).toFixed(1)} |`,
    );
    table[name] = { rounds: rs };
  }
  results['contention'] = table;

  // The same 16 workers as concurrent requests of one service: one connection, one Locker.
  const tenureContender = contenders[1] as (typeof contenders)[number];
  const modes = [
    { label: '16 instances (own connection and Locker each)', shared: false },
    { label: 'one instance (16 concurrent lock() calls on one Locker)', shared: true },
  ];
  const byMode = new Map(
    modes.map((m) => [m.label, [] as { perSecond: number; perAcq: number; min: number }[]]),
  );
  for (let round = 0; round < ROUNDS; round++) {
    for (const m of round % 2 ? [...modes].reverse() : modes) {
      const s0 = await scriptCalls(admin);
      const r = await contend(
        tenureContender,
        server.port,
        16,
        DURATION,
        `s3b-${round}-${m.shared}`,
        m.shared,
      );
      const used = (await scriptCalls(admin)) - s0;
      byMode.get(m.label)?.push({
        perSecond: (r.acquisitions * 1000) / r.wallMs,
        perAcq: used / r.acquisitions,
        min: Math.min(...r.perWorker),
      });
    }
  }
  out(
    '\ntenure, the same contention as 16 instances or as one instance with 16 concurrent callers:\n',
  );
  out(
    '| tenure deployment | acquisitions/s (median) | Redis scripts per acquisition (median) | fewest per worker (worst round) |',
  );
  out('| --- | ---: | ---: | ---: |');
  for (const [label, rs] of byMode) {
    out(
      `| ${label} | ${median(rs.map((r) => r.perSecond)).toFixed(0)} | ${median(rs.map((r) => r.perAcq)).toFixed(1)} | ${Math.min(...rs.map((r) => r.min))} |`,
    );
  }
  results['contentionTenure'] = Object.fromEntries(byMode);
}

// 4. Graceful hand-over: 5 electors; stop() the leader, time until another is elected.
if (want('4')) {
  const times = await handovers(
    () => new Redis({ host: '127.0.0.1', port: server.port }),
    0,
    HANDOVERS,
  );
  // Control: plain PING round trips on this machine, right after, to tell tenure's tail from the host's.
  const pings: number[] = [];
  for (let i = 0; i < HANDOVERS * 10; i++) {
    const t0 = performance.now();
    await admin.ping();
    pings.push(performance.now() - t0);
  }
  out('\n### 4. Elector graceful hand-over (5 electors, one process, one connection each)\n');
  out(
    `${HANDOVERS} hand-overs, time from \`stop()\` on the leader to \`elected\` on the next: p50 ${median(times).toFixed(2)} ms, p99 ${percentile(times, 99).toFixed(2)} ms, max ${Math.max(...times).toFixed(2)} ms. Control, ${pings.length} PING round trips right after: p50 ${median(pings).toFixed(2)} ms, p99 ${percentile(pings, 99).toFixed(2)} ms, max ${Math.max(...pings).toFixed(2)} ms.`,
  );
  results['handover'] = {
    ping: { p50: median(pings), p99: percentile(pings, 99), max: Math.max(...pings) },
    p50: median(times),
    p99: percentile(times, 99),
    max: Math.max(...times),
    n: times.length,
  };
}

// 5. Crash fail-over across processes: SIGKILL the leader, time to the next `elected`.
if (want('5')) {
  const ttlMs = 1000;
  const renewMs = 300;
  const times = await crashFailover({ port: server.port, kills: KILLS, ttlMs, renewMs });
  out(
    `\n### 5. Crash fail-over (3 processes, ttlMs ${ttlMs}; leader SIGKILLed at a random point of its renewal cycle)\n`,
  );
  out('| elector | kills | p50 ms | p99 ms | max ms |');
  out('| --- | ---: | ---: | ---: | ---: |');
  const row = (label: string, t: number[]) =>
    out(
      `| ${label} | ${t.length} | ${median(t).toFixed(0)} | ${percentile(t, 99).toFixed(0)} | ${Math.max(...t).toFixed(0)} |`,
    );
  row(`tenure Elector (renewMs ${renewMs})`, times.tenure);
  row(`hand-written polling elector (every ${renewMs} ms)`, times.polling);
  results['failover'] = { ttlMs, renewMs, ...times };
}

// 6. Idle cost: 100 followers and one leader sharing one connection; Redis commands per second.
if (want('6')) {
  const namespace = `idle-${Date.now()}`;
  const client = new Redis({ host: '127.0.0.1', port: server.port });
  const store = new RedisLeaseStore({ client, namespace });
  const ttlMs = 2000;
  const electors = Array.from(
    { length: 101 },
    (_, i) =>
      new Elector({
        store,
        election: 'idle',
        identity: `e${i}`,
        ttlMs,
        renewMs: 600,
        retryMs: 500,
      }),
  );
  await electors[0]?.start();
  await Promise.all(electors.slice(1).map((e) => e.start()));
  const before = await scriptCalls(admin);
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const perSecond = ((await scriptCalls(admin)) - before) / (IDLE_MS / 1000);
  const leaderShare = 1000 / 600; // the leader renews every renewMs
  const perFollowerPerLease = ((perSecond - leaderShare) / 100) * (ttlMs / 1000);
  await Promise.all(electors.map((e) => e.stop()));
  await store.close();
  client.disconnect();
  out('\n### 6. Follower idle cost (100 followers + 1 leader, ttlMs 2000, renewMs 600)\n');
  out(
    `Over ${IDLE_MS / 1000} s: ${perSecond.toFixed(1)} scripts/s in all, ${perFollowerPerLease.toFixed(2)} store calls per follower per lease period (target ≤ 1; a follower polling every retryMs would make ${(ttlMs / 500).toFixed(0)}).`,
  );
  results['idle'] = { perSecond, perFollowerPerLease };
}

// 7. Fleet scale: many electors / held locks in one process on one connection.
if (want('7')) {
  const e = await fleetElectors(server.port, admin, FLEET.electors, FLEET.windowMs);
  const l = await fleetLocks(server.port, admin, FLEET.locks, FLEET.windowMs);
  const row = (label: string, r: FleetResult) =>
    out(
      `| ${label} | ${r.scriptsPerSecond.toFixed(1)} | ${r.cpuPercent.toFixed(1)} | ${(r.rssBytesPer / 1024).toFixed(2)} | ${(r.heapBytesPer / 1024).toFixed(2)} | ${r.loopDelayMs.p50.toFixed(1)} / ${r.loopDelayMs.p99.toFixed(1)} / ${r.loopDelayMs.max.toFixed(1)} | ${r.longestGcMs.toFixed(1)} |`,
    );
  out(
    `\n### 7. Fleet scale (one process, one connection; ${(FLEET.windowMs / 1000).toFixed(0)} s window after start-up${e.gc ? '' : '; no --expose-gc, memory is noisy'})\n`,
  );
  out(
    '| workload | Redis scripts/s | client CPU % of a core | RSS KiB per item | V8 heap KiB per item | event-loop delay p50 / p99 / max ms | longest GC pause ms |',
  );
  out('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  row(`${FLEET.electors} electors, one election (defaults: ttlMs 15000, renewMs 5000)`, e);
  row(`${FLEET.locks} held locks, auto-refreshed (ttlMs 30000, refresh 10000)`, l);
  results['fleet'] = { electors: e, locks: l };
}

// Results next to the sources (npm runs this from the package root), not in .build/.
mkdirSync(resolve('bench/results'), { recursive: true });
if (want('pg')) {
  results['postgres'] = await postgresBench({
    rounds: ROUNDS,
    durationMs: DURATION,
    handovers: HANDOVERS,
    idleMs: quick ? 3000 : 30_000,
    kills: KILLS,
    out,
  });
}

if (want('etcd')) {
  results['etcd'] = await etcdBench({
    rounds: ROUNDS,
    durationMs: DURATION,
    handovers: HANDOVERS,
    idleMs: quick ? 2000 : 30_000,
    kills: KILLS,
    out,
  });
}

if (want('ha')) {
  results['sentinel-cluster'] = await redisTopologiesBench({
    rounds: ROUNDS,
    durationMs: DURATION,
    handovers: HANDOVERS,
    out,
  });
}

writeFileSync(
  resolve('bench/results/latest.json'),
  JSON.stringify({ date: new Date().toISOString(), quick, results }, null, 2),
);
writeFileSync(resolve('bench/results/latest.md'), `${lines.join('\n')}\n`);
admin.disconnect();
await server.stop();
// Some peers keep timers (health checks, metrics) that would hold the process open.
process.exit(0);
