/**
 * A zero-install demo of the lock API on the embedded memory store: three
 * workers in one process compete for one lock, each run does a fenced write to
 * a shared "resource" that refuses tokens older than the newest it has seen.
 * Exits by itself with a summary.
 */
import { Locker, MemoryLeaseStore } from '../../src/index.js';

const store = new MemoryLeaseStore();
const resource = { highestToken: 0, writes: [] as { worker: string; token: number }[] };

/** The resource checks the fencing token: a write from an older holder is refused. */
function fencedWrite(worker: string, token: number): boolean {
  if (token < resource.highestToken) return false;
  resource.highestToken = token;
  resource.writes.push({ worker, token });
  return true;
}

async function worker(name: string, rounds: number): Promise<void> {
  const locker = new Locker(store, { identity: name });
  for (let i = 0; i < rounds; i++) {
    await locker.withLock('report', { ttlMs: 1000, retryJitterMs: 20 }, async (signal, token) => {
      console.log(`${name} holds the lock with token ${token}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (!signal.aborted)
        console.log(
          `  ${name} write with token ${token}: ${fencedWrite(name, token) ? 'accepted' : 'refused'}`,
        );
    });
  }
}

await Promise.all([worker('worker-a', 3), worker('worker-b', 3), worker('worker-c', 3)]);
const tokens = resource.writes.map((w) => w.token);
const ordered = tokens.every((t, i) => i === 0 || t > (tokens[i - 1] ?? 0));
console.log(`\n${resource.writes.length} writes, tokens strictly increasing: ${ordered}`);
await store.close();
