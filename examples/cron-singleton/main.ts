/**
 * The cron-singleton service as a process: run several copies, one fires.
 *   REDIS_URL   Redis to elect on (required here; the demo runs without it)
 *   IDENTITY    instance name (default host:pid:rand)
 *   HTTP_PORT   /metrics /healthz /leader on 127.0.0.1 (default 0 = any free port)
 *   PATTERN     croner pattern (default every 2 s), TTL_MS, RENEW_MS
 * SIGTERM/SIGINT → elector.stop(): the lease is released and another
 * instance takes over within milliseconds. Events are printed as JSON lines
 * (and sent over IPC when started by the demo).
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { RedisLeaseStore } from '../../src/index.js';
import { startInstance, type InstanceEvent } from './app.js';
import { RedisRunLedger } from './ledger.js';

const url = process.env['REDIS_URL'];
if (!url) {
  console.error('REDIS_URL is required (npm run demo runs without Redis)');
  process.exit(2);
}
const identity = process.env['IDENTITY'] ?? `${process.pid}`;
const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
client.on('error', () => undefined);
const namespace = process.env['NAMESPACE'] ?? 'cron-singleton';
const store = new RedisLeaseStore({ client, namespace });
const ledger = new RedisRunLedger(client, `${namespace}-ledger`);
const logger = pino({
  level: process.env['LOG_LEVEL'] ?? 'silent',
  redact: ['token', '*.token', 'options.password'],
});

const emit = (event: InstanceEvent): void => {
  const line = { t: Date.now(), ...event };
  if (process.send) process.send(line);
  else console.log(JSON.stringify(line));
};

const instance = await startInstance({
  store,
  ledger,
  identity,
  registry: new Registry(),
  pattern: process.env['PATTERN'] ?? '*/2 * * * * *',
  ttlMs: Number(process.env['TTL_MS'] ?? 3000),
  renewMs: Number(process.env['RENEW_MS'] ?? 1000),
  httpPort: Number(process.env['HTTP_PORT'] ?? 0),
  logger,
  onEvent: emit,
});
process.send?.({ type: 'ready', identity, url: instance.http?.url });
if (!process.send)
  console.log(JSON.stringify({ type: 'ready', identity, url: instance.http?.url }));

let stopping = false;
const shutdown = (): void => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    await instance.stop();
    await store.close();
    await client.quit();
    if (process.connected) process.disconnect();
  })();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
