/**
 * Scenario 5: crash fail-over across processes. Three electors, each in its
 * own process; the leader is SIGKILLed at a random point of its renewal cycle
 * and the time to the next `elected` (CLOCK_MONOTONIC in both processes) is
 * recorded. tenure's Elector and the hand-written polling elector
 * (polling-worker.ts) alternate kill by kill against the same server; on
 * etcd, tenure's Elector and etcd3's own `Election` (etcd3-election-worker.ts).
 */
import { fileURLToPath } from 'node:url';
import { WorkerProcess } from '../test/helpers/worker-process.js';

export interface FailoverConfig {
  readonly port: number;
  readonly kills: number;
  readonly ttlMs: number;
  /** tenure's renewMs; also the polling elector's one interval. */
  readonly renewMs: number;
  /** Run tenure only, on PostgreSQL at `port`, in this (existing) lease table. */
  readonly postgresTable?: string;
  /** Run on etcd at these client endpoints: tenure and etcd3's Election. */
  readonly etcd?: string[];
}

const POLLING = fileURLToPath(new URL('./polling-worker.js', import.meta.url));
const ETCD3 = fileURLToPath(new URL('./etcd3-election-worker.js', import.meta.url));
type Kind = 'tenure' | 'polling' | 'etcd3';

class Fleet {
  readonly workers: WorkerProcess[] = [];
  #spawned = 0;

  constructor(
    readonly kind: Kind,
    readonly config: FailoverConfig,
    readonly namespace: string,
  ) {}

  spawn(): WorkerProcess {
    const { port, ttlMs, renewMs } = this.config;
    const worker = new WorkerProcess(
      {
        port,
        ...(this.config.postgresTable ? { postgres: true } : {}),
        ...(this.config.etcd ? { etcd: this.config.etcd } : {}),
        namespace: this.namespace,
        election: 'crash',
        identity: `${this.kind}-${this.#spawned++}`,
        ttlMs,
        renewMs,
        retryMs: this.kind === 'tenure' ? 500 : renewMs,
        retryJitterMs: 20,
      },
      this.kind === 'polling' ? POLLING : this.kind === 'etcd3' ? ETCD3 : undefined,
    );
    this.workers.push(worker);
    return worker;
  }

  leader(): WorkerProcess | undefined {
    return this.workers.find((w) => w.isLeader);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('fail-over bench: timed out waiting');
    await sleep(2);
  }
}

/** Milliseconds from SIGKILL to the next `elected`, per kind. */
export async function crashFailover(config: FailoverConfig): Promise<Record<Kind, number[]>> {
  const kinds: readonly Kind[] = config.postgresTable
    ? ['tenure']
    : config.etcd
      ? ['tenure', 'etcd3']
      : ['tenure', 'polling'];
  const fleets = kinds.map(
    (kind) =>
      new Fleet(
        kind,
        config,
        config.postgresTable ?? `crash-${kind}-${Date.now()}${config.etcd ? '/' : ''}`,
      ),
  );
  const times: Record<Kind, number[]> = { tenure: [], polling: [], etcd3: [] };
  try {
    for (const fleet of fleets) {
      for (let i = 0; i < 3; i++) fleet.spawn();
      await Promise.all(fleet.workers.map((w) => w.next((m) => m.ev === 'ready')));
    }
    for (let n = 0; n < config.kills; n++) {
      for (const fleet of fleets) {
        const leader = await waitFor(() => fleet.leader(), config.ttlMs * 5);
        // A random phase of the renewal cycle, after the leadership has settled.
        await sleep(config.renewMs + Math.random() * config.renewMs);
        const marks = new Map(fleet.workers.map((w) => [w, w.messages.length]));
        const killedAt = process.hrtime.bigint();
        await leader.kill();
        fleet.workers.splice(fleet.workers.indexOf(leader), 1);
        const elected = await waitFor(() => {
          for (const w of fleet.workers) {
            const m = w.messages.slice(marks.get(w)).find((x) => x.ev === 'elected');
            if (m) return BigInt(m.t);
          }
          return undefined;
        }, config.ttlMs * 5);
        times[fleet.kind].push(Number(elected - killedAt) / 1e6);
        const fresh = fleet.spawn();
        await fresh.next((m) => m.ev === 'ready');
      }
    }
  } finally {
    await Promise.all(fleets.flatMap((f) => f.workers.map((w) => w.stop())));
    await WorkerProcess.killAll();
  }
  return times;
}
