/**
 * A private etcd cluster for one test file: `size` members (3 by default) of
 * Debian's `etcd-server` on free loopback ports, data in a temporary
 * directory, torn down by `stop()`. Binary from PATH, or $TENURE_ETCD.
 *
 * Timing is scaled down so fault tests run in seconds: heartbeat 25 ms,
 * election timeout 250 ms, which also lowers etcd's minimum lease ttl to
 * 1 s (ceil(1.5 × election timeout)). `--experimental-enable-lease-checkpoint`
 * is on unless `checkpoint: false` (etcd 3.4 otherwise resets lease ttls to
 * their full length on an etcd leader change). fsync is off: these clusters
 * hold test data only, and a restart is a process restart, not a power loss.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { circuitBreaker, ConsecutiveBreaker, handleWhen } from 'cockatiel';
import { Etcd3, type IOptions, isRecoverableError } from 'etcd3';
import { FaultProxy } from '../fault/proxy.js';
import { reapOnExit } from './reaper.js';
import { freePort } from './redis-server.js';
import { serverReady } from './server-ready.js';

export const ETCD_BIN = process.env['TENURE_ETCD'] ?? 'etcd';
export const ETCDCTL_BIN = process.env['TENURE_ETCDCTL'] ?? 'etcdctl';

export interface EtcdClusterOptions {
  readonly size?: number;
  /** `--experimental-enable-lease-checkpoint`. @default true */
  readonly checkpoint?: boolean;
  /** Extra arguments for every member. */
  readonly args?: readonly string[];
  /**
   * Members reach each other through a FaultProxy per member (its advertised
   * peer URL), so `partition(i)` can cut member i off from the others.
   * @default false
   */
  readonly peerProxies?: boolean;
  /** A FaultProxy in front of each member's client port (`proxiedEndpoints`). @default false */
  readonly clientProxies?: boolean;
}

export class EtcdMember {
  readonly name: string;
  readonly host = '127.0.0.1';
  clientPort = 0;
  peerPort = 0;
  /** The proxy others reach this member through (`peerProxies`). */
  peerProxy: FaultProxy | undefined;
  /** The proxy clients reach this member through (`clientProxies`). */
  clientProxy: FaultProxy | undefined;
  #process: ChildProcess | undefined;

  constructor(name: string) {
    this.name = name;
  }

  get endpoint(): string {
    return `http://${this.host}:${this.clientPort}`;
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  get running(): boolean {
    const child = this.#process;
    return !!child && child.exitCode === null && child.signalCode === null;
  }

  /** @internal */
  spawnWith(args: string[]): Promise<void> {
    const child = spawn(ETCD_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#process = child;
    reapOnExit(child);
    return serverReady(
      child,
      'serving client', // printed once the member has joined and serves clients
      `etcd ${this.name}`,
      30_000,
      (error) => `cannot run ${ETCD_BIN} (${error.message}): apt-get install etcd-server`,
    );
  }

  /** Sends `signal` (e.g. SIGSTOP, SIGCONT) to the member's process. */
  signal(signal: NodeJS.Signals): void {
    this.#process?.kill(signal);
  }

  /** Ends the process with `signal` and waits for the exit. */
  async terminate(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT'); // a stopped process would not act on SIGTERM
    child.kill(signal);
    await exited;
  }
}

/** gRPC keep-alive: ping a connection with calls in flight every 2 s, drop it if no answer in 1 s. */
export const KEEPALIVE = {
  'grpc.keepalive_time_ms': 2000,
  'grpc.keepalive_timeout_ms': 1000,
};

/**
 * The client settings the README recommends: keep-alive, and etcd3's
 * per-member circuit breaker half-open after 1 s instead of its default 5 s
 * (after a cluster-wide outage every member's breaker is open, and nothing
 * is even tried until it half-opens).
 */
export function clientOptions(): Pick<IOptions, 'grpcOptions' | 'faultHandling'> {
  return {
    grpcOptions: KEEPALIVE,
    faultHandling: {
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), {
          halfOpenAfter: 1000,
          breaker: new ConsecutiveBreaker(3),
        }),
    },
  };
}

export class EtcdCluster {
  readonly members: EtcdMember[];
  readonly #dir = mkdtempSync(join(tmpdir(), 'tenure-etcd-'));
  readonly #options: EtcdClusterOptions;
  readonly #token = `tenure-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  readonly #clients = new Set<Etcd3>();

  private constructor(options: EtcdClusterOptions) {
    this.#options = options;
    this.members = Array.from({ length: options.size ?? 3 }, (_, i) => new EtcdMember(`m${i}`));
  }

  static async start(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    const cluster = new EtcdCluster(options);
    for (let attempt = 0; ; attempt++) {
      for (const member of cluster.members) {
        member.clientPort = await freePort();
        member.peerPort = await freePort();
        await member.peerProxy?.close();
        await member.clientProxy?.close();
        if (options.peerProxies) member.peerProxy = await FaultProxy.start(member.peerPort);
        if (options.clientProxies) member.clientProxy = await FaultProxy.start(member.clientPort);
      }
      try {
        // Members wait for each other's votes: they start together.
        await Promise.all(cluster.members.map((m) => cluster.#spawn(m, 'new')));
        return cluster;
      } catch (error) {
        await Promise.all(cluster.members.map((m) => m.terminate('SIGKILL')));
        rmSync(cluster.#dir, { recursive: true, force: true });
        if (attempt >= 3) throw error;
      }
    }
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  /** The members' client endpoints through their proxies (`clientProxies`). */
  get proxiedEndpoints(): string[] {
    return this.members.map((m) => {
      if (!m.clientProxy) throw new Error('started without clientProxies');
      return `http://127.0.0.1:${m.clientProxy.port}`;
    });
  }

  /** Cuts member `index` off from the other members (its peer proxy stalls) or heals it. */
  partition(index: number, cut: boolean): void {
    const proxy = this.members[index]?.peerProxy;
    if (!proxy) throw new Error('started without peerProxies');
    if (cut) proxy.stall();
    else proxy.heal('reset');
  }

  /**
   * A client of every member (or of `hosts`) that the cluster closes on
   * `stop()`, with the settings the README recommends (`clientOptions`).
   */
  client(options: Partial<IOptions> = {}): Etcd3 {
    const client = new Etcd3({ hosts: this.endpoints, ...clientOptions(), ...options });
    this.#clients.add(client);
    return client;
  }

  /** Index of the member that is the Raft leader now, asked of the running members. */
  async leaderIndex(): Promise<number> {
    for (const member of this.members.filter((m) => m.running)) {
      const client = new Etcd3({ hosts: member.endpoint });
      try {
        const status = await client.maintenance.status({ deadline: Date.now() + 2000 });
        const index = await this.#indexOfId(client, status.leader);
        if (index >= 0) return index;
      } catch {
        // this member cannot tell: ask the next one
      } finally {
        client.close();
      }
    }
    throw new Error('no etcd member knows a leader');
  }

  async #indexOfId(client: Etcd3, id: string): Promise<number> {
    const { members } = await client.cluster.memberList({}, { deadline: Date.now() + 2000 });
    const leader = members.find((m) => m.ID === id);
    return leader ? this.members.findIndex((m) => m.name === leader.name) : -1;
  }

  /** Starts a member again from its data directory (after `kill` or `terminate`). */
  async restart(index: number): Promise<void> {
    const member = this.members[index];
    if (!member) throw new Error(`no member ${index}`);
    await member.terminate('SIGTERM');
    await this.#spawn(member, 'existing');
  }

  /** Stops every member (SIGTERM) and starts them all again from their data directories. */
  async restartAll(): Promise<void> {
    await Promise.all(this.members.map((m) => m.terminate('SIGTERM')));
    await Promise.all(this.members.map((m) => this.#spawn(m, 'existing')));
  }

  /** Saves a snapshot of the cluster's data (from `from`, a running member) to `file`. */
  async snapshot(file: string, from = this.members.find((m) => m.running)): Promise<void> {
    if (!from) throw new Error('no running member to snapshot');
    await promisify(execFile)(
      ETCDCTL_BIN,
      ['--endpoints', from.endpoint, 'snapshot', 'save', file],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 30_000 },
    );
  }

  /**
   * Disaster recovery as etcd documents it: every member stopped, its data
   * directory replaced by a restore of `file` (`etcdctl snapshot restore`),
   * and the cluster started again. Revisions go back to the snapshot's.
   */
  async restoreAll(file: string): Promise<void> {
    await Promise.all(this.members.map((m) => m.terminate('SIGKILL')));
    const url = (m: EtcdMember): string => `http://${m.host}:${m.peerProxy?.port ?? m.peerPort}`;
    const peers = this.members.map((m) => `${m.name}=${url(m)}`).join(',');
    for (const member of this.members) {
      const dir = join(this.#dir, member.name);
      rmSync(dir, { recursive: true, force: true });
      await promisify(execFile)(
        ETCDCTL_BIN,
        [
          'snapshot',
          'restore',
          file,
          '--name',
          member.name,
          '--data-dir',
          dir,
          '--initial-cluster',
          peers,
          '--initial-cluster-token',
          this.#token,
          '--initial-advertise-peer-urls',
          url(member),
        ],
        { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 30_000 },
      );
    }
    await Promise.all(this.members.map((m) => this.#spawn(m, 'existing')));
  }

  async stop(): Promise<void> {
    for (const client of this.#clients) client.close();
    this.#clients.clear();
    await Promise.all(this.members.map((m) => m.terminate('SIGKILL')));
    for (const m of this.members) {
      await m.peerProxy?.close();
      await m.clientProxy?.close();
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #spawn(member: EtcdMember, state: 'new' | 'existing'): Promise<void> {
    const peer = (m: EtcdMember): string => `http://${m.host}:${m.peerPort}`;
    const advertised = (m: EtcdMember): string =>
      m.peerProxy ? `http://${m.host}:${m.peerProxy.port}` : peer(m);
    return member.spawnWith([
      '--name',
      member.name,
      '--data-dir',
      join(this.#dir, member.name),
      '--listen-client-urls',
      member.endpoint,
      '--advertise-client-urls',
      member.endpoint,
      '--listen-peer-urls',
      peer(member),
      '--initial-advertise-peer-urls',
      advertised(member),
      '--initial-cluster',
      this.members.map((m) => `${m.name}=${advertised(m)}`).join(','),
      '--initial-cluster-state',
      state,
      '--initial-cluster-token',
      this.#token,
      '--heartbeat-interval',
      '25',
      '--election-timeout',
      '250',
      '--unsafe-no-fsync',
      '--grpc-keepalive-min-time',
      '1s', // the clients ping every 2 s (KEEPALIVE); etcd's default floor is 5 s
      '--logger',
      'zap',
      ...(this.#options.checkpoint === false ? [] : ['--experimental-enable-lease-checkpoint']),
      ...(this.#options.args ?? []),
    ]);
  }
}
