/**
 * The `tenure` binary when things go wrong, against private redis-servers
 * (and a TCP listener that never answers): how much it logs under a dead
 * store, giving up leadership for a command that cannot start or keeps
 * failing, naming refused / DNS / auth failures at once (and timeouts as
 * timeouts), `--wait-ms` bounding the connect, who leads while waiting, and
 * what a graceful stop says.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, startCli } from '../helpers/cli.js';
import { RedisServer, freePort, uniqueNamespace } from '../helpers/redis-server.js';
import { FaultProxy } from '../fault/proxy.js';

let server: RedisServer;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  server = await RedisServer.start();
  dir = mkdtempSync(join(tmpdir(), 'tenure-cli-failures-'));
  env = { TENURE_STORE: server.url, TENURE_NAMESPACE: uniqueNamespace('clif') };
});

afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const held = async (name: string): Promise<string[]> => {
  const r = await cli(['status', '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { leases: { name: string }[] }).leases
    .map((l) => l.name)
    .filter((n) => n === name);
};

/** A TCP listener on a free loopback port that accepts connections and never answers. */
async function blackHole(): Promise<{
  port: number;
  accepted: Promise<number>;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let onAccept: (at: number) => void = () => {};
  const accepted = new Promise<number>((resolve) => (onAccept = resolve));
  const listener: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    onAccept(Date.now());
  });
  const port = await freePort();
  await new Promise<void>((resolve) => listener.listen(port, '127.0.0.1', resolve));
  return {
    port,
    accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

describe('under a dead store', () => {
  it('tenure run logs a handful of lines, not one per 50 ms restart', async () => {
    const own = await RedisServer.start();
    const p = startCli(['run', 'dead', '--lease-ms', '3000', '--', 'sleep', '30'], {
      TENURE_STORE: own.url,
      TENURE_NAMESPACE: uniqueNamespace('dead'),
    });
    try {
      await p.waitFor(/started sleep/);
      const before = p.stderr.split('\n').length;
      await own.stop(); // the store is gone for good
      // The term ends within its 3 s lease; watch until well after that.
      await p.waitFor(/stepped down .*reason=deadline/, 10_000);
      await new Promise((r) => setTimeout(r, 3_000));
      const lines = p.stderr
        .split('\n')
        .slice(before - 1)
        .filter(Boolean);
      // Before the fix: "restarting in 50 ms" / "not started: the lease deadline is too
      // close" / "command ended: not started", every 50 ms from SIGTERM to the deadline.
      expect(
        lines.filter((l) => /restarting in|not started/.test(l)),
        p.stderr,
      ).toHaveLength(0);
      expect(lines.length, p.stderr).toBeLessThanOrEqual(15);
      expect(await p.stop('SIGTERM')).toBe(0);
    } finally {
      await p.stop('SIGKILL');
      await own.stop();
    }
  });
});

describe('giving up leadership', () => {
  it('a command that is not executable (126) releases the lease and exits 126', async () => {
    const plain = join(dir, 'not-executable');
    writeFileSync(plain, 'echo never\n', { mode: 0o644 });
    const r = await cli(['run', 'noexec', '--', plain], env);
    expect(r.stderr).toMatch(/cannot be started \(exit code 126: not executable\)/);
    expect(r.code, r.stderr).toBe(126);
    expect(await held('noexec')).toEqual([]);
  });

  it('a command that cannot be started (127) releases the lease and exits 127', async () => {
    const r = await cli(['run', 'nostart', '--', join(dir, 'no-such-command')], env);
    expect(r.stderr).toMatch(
      /cannot be started \(exit code 127: not found\): giving up leadership of nostart/,
    );
    expect(r.code, r.stderr).toBe(127);
    expect(await held('nostart')).toEqual([]);
  });

  it('--max-failures 3: three failures in a row release the lease and exit with the last status', async () => {
    const runs = join(dir, 'runs');
    const r = await cli(
      [
        'run',
        'flaky',
        '--restart-delay-ms',
        '0',
        '--max-failures',
        '3',
        '--',
        'sh',
        '-c',
        `echo run >> ${runs}; exit 3`,
      ],
      env,
    );
    expect(r.stderr).toMatch(
      /failed 3 times in a row \(--max-failures 3\): giving up leadership of flaky/,
    );
    expect(r.code, r.stderr).toBe(3);
    expect(readFileSync(runs, 'utf8').trim().split('\n')).toHaveLength(3);
    expect(await held('flaky')).toEqual([]);
  });

  it('the instance waiting behind one that gave up takes over at once', async () => {
    // The leader's command fails after 3 s (--max-failures 1); the other instance waits meanwhile.
    const broken = startCli(
      ['run', 'handover', '--max-failures', '1', '--', 'sh', '-c', 'sleep 3; exit 127'],
      env,
    );
    let healthy = broken;
    try {
      await broken.waitFor(/started sh/);
      healthy = startCli(['run', 'handover', '--', 'sleep', '30'], env);
      await healthy.waitFor(/waiting: .* leads handover/);
      expect(await broken.exited).toBe(127);
      const gaveUpAt = Date.now();
      await healthy.waitFor(/started sleep/, 10_000);
      // Released, not left to expire: well within the 15 s lease.
      expect(Date.now() - gaveUpAt).toBeLessThan(5_000);
    } finally {
      await Promise.all([broken.stop('SIGKILL'), healthy.stop('SIGKILL')]);
    }
  });
});

describe('connection failures are named at once', () => {
  it('connection refused: status, lock and init exit 69 without waiting for a timeout', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    for (const args of [['status'], ['lock', 'n', '--', 'true'], ['init']]) {
      const started = Date.now();
      const r = await cli(args, { TENURE_STORE: url });
      expect(r.stderr, args.join(' ')).toMatch(
        /: connection refused \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)/,
      );
      expect(r.code).toBe(69);
      // It used to wait for the 5 s request timeout and say "did not answer".
      expect(Date.now() - started).toBeLessThan(4_000);
    }
  });

  it('a host name that does not resolve: DNS, exit 69, also for run (waiting cannot fix it)', async () => {
    for (const args of [['status'], ['run', 'e', '--', 'true']]) {
      const r = await cli(args, { TENURE_STORE: 'redis://no-such-host.invalid:6390' });
      expect(r.stderr).toMatch(
        /host name not found \(DNS\) \(getaddrinfo ENOTFOUND no-such-host\.invalid\)/,
      );
      expect(r.code).toBe(69);
    }
  });

  it('a wrong password: authentication failed, exit 69, also for run', async () => {
    const guarded = await RedisServer.start(['--requirepass', 'right-one']);
    try {
      const url = `redis://:wrong-one@127.0.0.1:${guarded.port}`;
      for (const args of [['status'], ['run', 'e', '--', 'true']]) {
        const r = await cli(args, { TENURE_STORE: url });
        expect(r.stderr).toMatch(/: authentication failed \(WRONGPASS/);
        expect(r.stderr).not.toContain('wrong-one');
        expect(r.code).toBe(69);
      }
    } finally {
      await guarded.stop();
    }
  });

  it('run with a refused store at start says so and keeps campaigning', async () => {
    const p = startCli([
      'run',
      'e',
      '--store',
      `redis://127.0.0.1:${await freePort()}`,
      '--',
      'true',
    ]);
    try {
      await p.waitFor(/connection refused .*; campaigning anyway/);
      expect(p.proc.exitCode).toBeNull();
      expect(await p.stop('SIGTERM')).toBe(0);
    } finally {
      await p.stop('SIGKILL');
    }
  });

  it('a server that never answers is a timeout, and lock --wait-ms bounds the connect too', async () => {
    const hole = await blackHole();
    try {
      const url = `redis://127.0.0.1:${hole.port}`;
      const p = startCli(['lock', 'n', '--wait-ms', '1000', '--store', url, '--', 'true']);
      const accepted = await hole.accepted;
      const code = await p.exited;
      const tookMs = Date.now() - accepted;
      expect(p.stderr).toMatch(/did not answer/);
      expect(p.stderr).not.toMatch(/refused/);
      expect(code).toBe(69);
      // It used to take 5 s to connect, then 5 s for the first read.
      expect(tookMs, p.stderr).toBeLessThan(2_500);
    } finally {
      await hole.close();
    }
  });
});

describe('an abandoned acquisition is given back', () => {
  it('lock --wait-ms: a grant whose reply comes after the wait is released before tenure exits', async () => {
    // Replies slow down from the acquisition on (its script is the one request that carries
    // 'PUBLISH'): the store grants, tenure's wait ends first, the grant arrives later.
    const proxy = await FaultProxy.start(server.port);
    try {
      proxy.delayRepliesFrom('PUBLISH', 600);
      const r = await cli(['lock', 'late', '--wait-ms', '300', '--', 'true'], {
        ...env,
        TENURE_STORE: `redis://127.0.0.1:${proxy.port}`,
      });
      // tenure waits (Locker.settled(), bounded by the request timeout) for the late grant's
      // release before it closes the client: a release still queued at close is dropped, and
      // the name stays held for the whole lease by a process that has exited (an independent
      // review saw that in 2 of 17 runs without the wait; the unit test of settled() pins it).
      expect(await held('late'), r.stderr).toEqual([]);
      expect(r.code, r.stderr).toBe(75);
      expect(r.stderr).toMatch(/not acquired: late within --wait-ms 300/);
    } finally {
      await proxy.close();
    }
  });
});

describe('what a waiting or stopping instance says', () => {
  it('run logs who leads while it waits and on each change; SIGTERM says how long it waits, again kills', async () => {
    const ignoresTerm = `trap '' TERM; echo ready; while :; do sleep 0.05; done`;
    const a = startCli(
      ['run', 'talk', '--identity', 'alpha', '--grace-ms', '3000', '--', 'sh', '-c', ignoresTerm],
      env,
    );
    let b = a;
    try {
      await a.waitFor(/started sh/);
      await a.waitFor(/^ready$/m, 10_000, 'stdout');
      const [, term] = await a.waitFor(/elected leader of talk \(term=(\d+)/);
      b = startCli(['run', 'talk', '--identity', 'beta', '--', 'sleep', '30'], env);
      await b.waitFor(
        new RegExp(`waiting: alpha leads talk \\(term=${term} since=\\d{4}-\\d\\d-\\d\\dT`),
      );
      a.proc.kill('SIGTERM');
      await a.waitFor(
        /SIGTERM: stopping the command, waiting up to 3 s for it to exit; SIGTERM again kills it now/,
      );
      a.proc.kill('SIGTERM');
      await a.waitFor(/SIGTERM again: killing the command/);
      expect(await a.exited).toBe(0);
      await b.waitFor(/elected leader of talk/);
    } finally {
      await Promise.all([a.stop('SIGKILL'), b.stop('SIGKILL')]);
    }
  });

  it('lock says how long it waits for the command on SIGTERM', async () => {
    const p = startCli(
      ['lock', 'talk-lock', '--grace-ms', '2000', '--', 'sh', '-c', 'echo ready; sleep 30'],
      env,
    );
    try {
      await p.waitFor(/^ready$/m, 10_000, 'stdout');
      p.proc.kill('SIGTERM');
      await p.waitFor(/SIGTERM: stopping the command, waiting up to 2 s for it to exit/);
      expect(await p.exited).toBe(143);
    } finally {
      await p.stop('SIGKILL');
    }
  });
});
