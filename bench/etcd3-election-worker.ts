/**
 * etcd3's own `Election` (etcd3 1.1.2), for the side-by-side comparison:
 * one campaign per process, ttl = ceil(ttlMs / 1000) s. It reports
 * leadership the way etcd3 does: `elected` when the campaign wins, `revoked`
 * when the campaign reports an error (its lease lost: a keep-alive answered
 * "expired", or 2 × ttl without a keep-alive on the wall clock). On SIGCONT
 * it reports what such an application believes on waking: leader if it was
 * elected and nothing was reported since. Speaks the elector-worker
 * messages with CLOCK_MONOTONIC timestamps.
 */
import { Etcd3 } from 'etcd3';
import type { WorkerConfig, WorkerMessage } from '../test/helpers/elector-worker.js';

const config = JSON.parse(process.env['TENURE_WORKER'] ?? '{}') as WorkerConfig;
const now = (): string => process.hrtime.bigint().toString();
const send = (m: WorkerMessage): void => {
  if (process.connected) process.send?.(m);
};

const client = new Etcd3({ hosts: config.etcd ?? [] });
const election = client.election(
  `${config.namespace}${config.election}`,
  Math.ceil(config.ttlMs / 1000),
);
const campaign = election.campaign(config.identity);
let leader = false;
let term = 0;
let revoked = false;
campaign.on('elected', () => {
  leader = true;
  term++;
  send({ ev: 'elected', term, t: now() });
});
campaign.on('error', () => {
  if (!leader) return;
  leader = false;
  revoked = true;
  send({ ev: 'revoked', term, reason: 'lost', t: now() });
});

process.on('SIGCONT', () =>
  send({ ev: 'probe', isLeader: leader, revokedBefore: revoked, t: now() }),
);
process.on('message', (message: { cmd?: string }) => {
  if (message.cmd === 'probe')
    send({ ev: 'probe', isLeader: leader, revokedBefore: revoked, t: now() });
  if (message.cmd !== 'stop') return;
  void (async () => {
    await campaign.resign().catch(() => undefined);
    client.close();
    send({ ev: 'stopped', t: now() });
    if (process.connected) process.disconnect();
  })();
});

send({ ev: 'ready', t: now() });
