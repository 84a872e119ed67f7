/**
 * `npm run demo`: three instances of the cron-singleton service, one cron job
 * firing every 2 seconds, a leader that freezes (its store calls hang, as for
 * a crashed or partitioned process), a graceful hand-over, and a summary.
 * Without REDIS_URL everything runs in this process on the embedded memory
 * store; with REDIS_URL the instances are separate processes (main.ts)
 * against that Redis and the frozen leader is killed with SIGKILL.
 * Serves /metrics on 127.0.0.1 while it runs; exits by itself.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { MemoryLeaseStore } from '../../src/index.js';
import { type Instance, type InstanceEvent, startInstance } from './app.js';
import { type LedgerEntry, MemoryRunLedger, RedisRunLedger } from './ledger.js';
import { SeverableStore } from './severable-store.js';

const SECONDS = Number(process.env['DEMO_SECONDS'] ?? 24);
const FREEZE_AT = SECONDS * 0.3;
const HANDOVER_AT = SECONDS * 0.65;
const NAMES = ['worker-a', 'worker-b', 'worker-c'];
const started = Date.now();
const events: (InstanceEvent & { t: number })[] = [];
const leaders = new Map<string, number>(); // identity -> term while leading

const stamp = (t = Date.now()): string => `+${((t - started) / 1000).toFixed(3).padStart(7)}s`;
const clock = (ms: number): string => new Date(ms).toISOString().slice(11, 19);
function say(identity: string, text: string, t = Date.now()): void {
  console.log(`${stamp(t)}  ${identity.padEnd(9)} ${text}`);
}

function onEvent(event: InstanceEvent, t = Date.now()): void {
  events.push({ ...event, t });
  switch (event.type) {
    case 'elected':
      leaders.set(event.identity, event.term);
      say(event.identity, `elected leader (term ${event.term})`, t);
      break;
    case 'revoked':
      leaders.delete(event.identity);
      say(event.identity, `stepped down: ${event.reason} (term ${event.term})`, t);
      break;
    case 'ran':
      say(
        event.identity,
        `ran report for ${clock(event.fireAt)}${event.late ? ' (caught up after fail-over)' : ''}`,
        t,
      );
      break;
    case 'claim':
      if (event.result !== 'claimed')
        say(event.identity, `ledger refused fire ${clock(event.fireAt)}: ${event.result}`, t);
      break;
    case 'error':
      break;
  }
}

const sleepUntil = (second: number): Promise<void> =>
  new Promise((r) => setTimeout(r, Math.max(0, started + second * 1000 - Date.now())));
const currentLeader = (): string | undefined => [...leaders.keys()][0];

async function inProcess(): Promise<LedgerEntry[]> {
  console.log(
    'tenure demo: 3 instances in this process on the embedded memory store (set REDIS_URL to use Redis)\n',
  );
  const registry = new Registry();
  const memory = new MemoryLeaseStore();
  const ledger = new MemoryRunLedger();
  const stores = new Map(NAMES.map((n) => [n, new SeverableStore(memory)]));
  const metrics = createServer((_req, res) => {
    void registry
      .metrics()
      .then((body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body));
  });
  await new Promise<void>((r) => metrics.listen(0, '127.0.0.1', r));
  console.log(`metrics: http://127.0.0.1:${(metrics.address() as AddressInfo).port}/metrics\n`);
  const instances = new Map<string, Instance>();
  for (const identity of NAMES) {
    instances.set(
      identity,
      await startInstance({
        store: stores.get(identity) as SeverableStore,
        ledger,
        identity,
        registry,
        onEvent: (e) => onEvent(e),
      }),
    );
  }
  await sleepUntil(FREEZE_AT);
  const frozen = currentLeader();
  if (frozen) {
    say(
      frozen,
      '** freezes: its store calls hang from now on (a crash or partition); it leads until its own deadline, nobody else can before **',
    );
    stores.get(frozen)?.sever();
  }
  await sleepUntil(HANDOVER_AT);
  const graceful = currentLeader();
  if (graceful) {
    say(graceful, '** receives SIGTERM: elector.stop() releases the lease **');
    await instances.get(graceful)?.stop();
  }
  await sleepUntil(SECONDS);
  await Promise.all([...instances.values()].map((i) => i.stop()));
  await new Promise((r) => metrics.close(r));
  return ledger.entries('report');
}

async function separateProcesses(url: string): Promise<LedgerEntry[]> {
  console.log(`tenure demo: 3 processes against ${url.replace(/\/\/[^@]*@/, '//***@')}\n`);
  const namespace = `demo-${process.pid}-${Date.now()}`;
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const children = new Map<string, ChildProcess>();
  for (const identity of NAMES) {
    const child = fork(main, [], {
      env: { ...process.env, IDENTITY: identity, NAMESPACE: namespace, HTTP_PORT: '0' },
    });
    child.on('message', (m: InstanceEvent | { type: 'ready'; identity: string; url?: string }) => {
      if (m.type === 'ready')
        console.log(
          `${stamp()}  ${m.identity.padEnd(9)} up, /metrics /healthz /leader at ${m.url ?? '-'}`,
        );
      else onEvent(m, (m as { t?: number }).t ?? Date.now());
    });
    children.set(identity, child);
    await new Promise((r) => child.once('message', r));
  }
  await sleepUntil(FREEZE_AT);
  const killed = currentLeader();
  if (killed) {
    say(killed, '** SIGKILL **');
    children.get(killed)?.kill('SIGKILL');
    leaders.delete(killed);
  }
  await sleepUntil(HANDOVER_AT);
  const graceful = currentLeader();
  if (graceful) {
    say(graceful, '** SIGTERM: elector.stop() releases the lease **');
    children.get(graceful)?.kill('SIGTERM');
  }
  await sleepUntil(SECONDS);
  await Promise.all(
    [...children.values()].map(
      (c) =>
        new Promise((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve(undefined);
          c.once('exit', resolve);
          c.kill('SIGTERM');
        }),
    ),
  );
  const client = new Redis(url);
  client.on('error', () => {}); // a failed read below is reported by the promise
  const entries = await new RedisRunLedger(client, `${namespace}-ledger`).entries('report');
  await client.quit();
  return entries;
}

const url = process.env['REDIS_URL'];
const entries = url ? await separateProcesses(url) : await inProcess();

// Every scheduled fire between the first and the last recorded one must be there exactly once.
const ran = events.filter(
  (e): e is Extract<InstanceEvent, { type: 'ran' }> & { t: number } => e.type === 'ran',
);
const runsPerFire = new Map<number, number>();
for (const r of ran) runsPerFire.set(r.fireAt, (runsPerFire.get(r.fireAt) ?? 0) + 1);
const doubleFires = [...runsPerFire.values()].filter((n) => n > 1).length;
const first = entries[0]?.fireAt ?? 0;
const last = entries.at(-1)?.fireAt ?? 0;
const expected = entries.length ? Math.round((last - first) / 2000) + 1 : 0;
const missed = expected - entries.length;
const termsOrdered = entries.every((e, i) => i === 0 || e.term >= (entries[i - 1]?.term ?? 0));
const perWorker = NAMES.map((n) => `${n} ${entries.filter((e) => e.identity === n).length}`).join(
  ', ',
);
const refused = events.filter((e) => e.type === 'claim' && e.result !== 'claimed').length;

console.log(`
summary
  fires recorded: ${entries.length} (${clock(first)} to ${clock(last)}), per worker: ${perWorker}
  missed fires: ${missed}
  double fires: ${doubleFires}
  claims refused by the ledger (duplicate or stale term): ${refused}
  terms non-decreasing in the ledger: ${termsOrdered}`);
process.exit(doubleFires === 0 && missed === 0 && termsOrdered && entries.length > 0 ? 0 : 1);
