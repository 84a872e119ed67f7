/**
 * Test-only, never shipped: a `tenure run` without the supervisor, for the
 * must-fire row XU1. It runs the command while leading and stops it only
 * when it notices leadership ended (SIGTERM to the group on `revoked`), as
 * `consul lock` does (etcdctl lock does not stop it at all). A paused
 * runner notices nothing, so its command outlives the lease.
 *
 * argv: <redis url> <namespace> <election> <ttlMs> <command> [args…]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { Elector, RedisLeaseStore } from '../../src/index.js';

const [url, namespace, election, ttl, file, ...args] = process.argv.slice(2);
const client = new Redis(url as string);
const store = new RedisLeaseStore({ client, namespace: namespace as string });
const elector = new Elector({ store, election: election as string, ttlMs: Number(ttl) });
let child: ChildProcess | null = null;

elector.on('elected', ({ term }) => {
  child = spawn(file as string, args, {
    detached: true,
    stdio: 'inherit',
    env: { ...process.env, TENURE_TERM: String(term) },
  });
  process.stderr.write(`naive: started ${child.pid ?? '?'} term ${term}\n`);
});
elector.on('revoked', () => {
  if (child?.pid) process.kill(-child.pid, 'SIGKILL');
  child = null;
});
process.on('SIGTERM', () => {
  if (child?.pid) process.kill(-child.pid, 'SIGKILL');
  void elector.stop().then(() => {
    client.disconnect();
    process.exit(0);
  });
});
await elector.start();
