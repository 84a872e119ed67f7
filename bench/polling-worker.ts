/**
 * The elector users write by hand, for the crash fail-over comparison: every
 * `retryMs`, a follower tries `SET key id NX PX ttlMs` and the leader
 * extends its key with a compare-and-PEXPIRE script. No deadline, no
 * notifications, no expiry-timed wake-up. Speaks the elector-worker messages
 * (`ready`, `elected`, `revoked`) with CLOCK_MONOTONIC timestamps.
 */
import { Redis } from 'ioredis';
import type { WorkerConfig, WorkerMessage } from '../test/helpers/elector-worker.js';

const config = JSON.parse(process.env['TENURE_WORKER'] ?? '{}') as WorkerConfig;
const now = (): string => process.hrtime.bigint().toString();
const send = (m: WorkerMessage): void => void process.send?.(m);
const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

const client = new Redis({ host: '127.0.0.1', port: config.port, maxRetriesPerRequest: 1 });
client.on('error', () => undefined);
const key = `${config.namespace}:${config.election}`;
let leader = false;
let term = 0;
let stopped = false;

async function tick(): Promise<void> {
  try {
    if (leader) {
      if (Number(await client.eval(EXTEND, 1, key, config.identity, config.ttlMs)) !== 1) {
        leader = false;
        send({ ev: 'revoked', term, reason: 'lost', t: now() });
      }
    } else if ((await client.set(key, config.identity, 'PX', config.ttlMs, 'NX')) === 'OK') {
      leader = true;
      term++;
      send({ ev: 'elected', term, t: now() });
    }
  } catch {
    // a hand-written loop swallows errors and tries again next tick
  }
  if (!stopped) setTimeout(() => void tick(), config.retryMs);
}

process.on('message', (message: { cmd?: string }) => {
  if (message.cmd !== 'stop') return;
  stopped = true;
  void (async () => {
    if (leader)
      await client.eval(
        `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`,
        1,
        key,
        config.identity,
      );
    await client.quit();
    send({ ev: 'stopped', t: now() });
    if (process.connected) process.disconnect();
  })();
});

send({ ev: 'ready', t: now() });
await tick();
