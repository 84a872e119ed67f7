/**
 * `npm run demo:cli`: three `tenure run` instances of one shell command, on a
 * private redis-server this demo starts on a free loopback port (installed
 * by `bash scripts/ensure-deps.sh`). The command runs on one instance at a
 * time; SIGTERM to the leader hands it over in milliseconds (the lease is
 * released); SIGKILL of the next leader stops its command at once (its
 * supervisor notices) and the last instance takes over when the lease
 * expires. Prints `tenure status` on the way and a summary; exits by itself.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const LEASE_MS = 3_000;
const COMMAND =
  'while :; do echo "working as $TENURE_IDENTITY, term $TENURE_TERM"; sleep 0.5; done';
const started = Date.now();
const stamp = (t = Date.now()): string => `+${((t - started) / 1000).toFixed(3).padStart(6)}s`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

interface Instance {
  readonly name: string;
  readonly proc: ChildProcess;
  /** When tenure reported the command started and ended (its whole process group gone). */
  readonly runs: { from: number; to: number | null }[];
}

function print(name: string, line: string): void {
  console.log(`${stamp()}  ${name.padEnd(6)} ${line}`);
}

function startInstance(name: string, store: string): Instance {
  const args = ['run', 'nightly-report', '--store', store, '--identity', name];
  args.push('--lease-ms', String(LEASE_MS), '--', 'sh', '-c', COMMAND);
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const instance: Instance = { name, proc, runs: [] };
  for (const stream of [proc.stdout, proc.stderr]) {
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (/^tenure: started sh/.test(line)) instance.runs.push({ from: Date.now(), to: null });
        const last = instance.runs.at(-1);
        if (/^tenure: command ended/.test(line) && last) last.to = Date.now();
        print(name, line);
      }
    });
  }
  proc.once('exit', () => {
    const last = instance.runs.at(-1);
    if (last && last.to === null) last.to = Date.now(); // SIGKILLed: its supervisor stopped the command
  });
  return instance;
}

async function nextStart(
  instances: Instance[],
  after: number,
  timeoutMs: number,
): Promise<Instance> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const leader = instances.find((i) => i.runs.some((r) => r.from > after));
    if (leader) return leader;
    if (Date.now() > until) throw new Error('no instance started the command in time');
    await sleep(5);
  }
}

const exited = (p: ChildProcess): Promise<unknown> =>
  p.exitCode === null && p.signalCode === null
    ? new Promise((r) => p.once('exit', r))
    : Promise.resolve();

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tenure-demo-cli-'));
  const port = await freePort();
  const redis = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir],
    { stdio: 'ignore' },
  );
  const spawned = await new Promise<boolean>((resolve) => {
    redis.once('error', () => resolve(false));
    redis.once('spawn', () => resolve(true));
  });
  if (!spawned) {
    console.error('This demo needs redis-server: run `bash scripts/ensure-deps.sh`.');
    rmSync(dir, { recursive: true, force: true });
    process.exitCode = 1;
    return;
  }
  const store = `redis://127.0.0.1:${port}`;
  const instances: Instance[] = [];
  try {
    await sleep(300);
    console.log(
      `Three instances of \`tenure run nightly-report\` on ${store}, lease ${LEASE_MS} ms.`,
    );
    console.log(`The command: sh -c '${COMMAND}'\n`);
    for (const name of ['alpha', 'beta', 'gamma']) instances.push(startInstance(name, store));
    const first = await nextStart(instances, 0, 10_000);
    await sleep(2_000);
    console.log(`\n$ tenure status --store ${store}`);
    console.log(
      execFileSync(process.execPath, [CLI, 'status', '--store', store], { encoding: 'utf8' }),
    );

    print('demo', `SIGTERM to ${first.name}: it stops its command and releases the lease`);
    const termAt = Date.now();
    first.proc.kill('SIGTERM');
    const second = await nextStart(instances, termAt, 10_000);
    const handoverMs = (second.runs.at(-1)?.from ?? NaN) - termAt;
    await sleep(2_000);

    print('demo', `SIGKILL to ${second.name}: its supervisor stops the command; the lease expires`);
    const killAt = Date.now();
    second.proc.kill('SIGKILL');
    const third = await nextStart(instances, killAt, LEASE_MS + 10_000);
    const failoverMs = (third.runs.at(-1)?.from ?? NaN) - killAt;
    await sleep(2_000);

    for (const i of instances) i.proc.kill('SIGTERM');
    await Promise.all(instances.map((i) => exited(i.proc)));
    const runs = instances
      .flatMap((i) => i.runs.map((r) => ({ name: i.name, from: r.from, to: r.to ?? Infinity })))
      .sort((a, b) => a.from - b.from);
    const overlapping = runs.some((r, i) => i > 0 && (runs[i - 1]?.to ?? 0) > r.from);
    console.log('\nSummary');
    console.log(`  graceful hand-over (SIGTERM → next command started): ${handoverMs} ms`);
    console.log(`  crash fail-over (SIGKILL → next command started):    ${failoverMs} ms`);
    console.log(
      `  runs: ${runs.map((r) => `${r.name} ${stamp(r.from)}–${stamp(r.to)}`).join(', ')}`,
    );
    console.log(`  one instance at a time, as tenure reported it: ${overlapping ? 'NO' : 'yes'}`);
    if (overlapping) process.exitCode = 1;
  } finally {
    for (const i of instances) i.proc.kill('SIGKILL');
    redis.kill('SIGTERM');
    await exited(redis);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
