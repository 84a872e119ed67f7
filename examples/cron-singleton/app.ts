/**
 * One instance of the cron-singleton service: an elector, the schedule that
 * runs only on the leader, and /metrics, /healthz, /leader. Used by main.ts
 * (one instance per process) and by demo.ts (three in one process).
 */
import type { Registry } from 'prom-client';
import { type ElectionServer, serveElection } from '../../src/http.js';
import { Elector, type LeaseStore, type Logger } from '../../src/index.js';
import { prometheusMetrics } from '../../src/prometheus.js';
import type { ClaimResult, RunLedger } from './ledger.js';
import { scheduleWhileLeader } from './schedule.js';

export type InstanceEvent =
  | { type: 'elected'; identity: string; term: number }
  | { type: 'revoked'; identity: string; term: number; reason: string }
  | {
      type: 'claim';
      identity: string;
      fireAt: number;
      term: number;
      late: boolean;
      result: ClaimResult;
    }
  | { type: 'ran'; identity: string; fireAt: number; term: number; late: boolean }
  | { type: 'error'; identity: string; message: string };

export interface InstanceConfig {
  store: LeaseStore;
  ledger: RunLedger;
  identity: string;
  registry: Registry;
  job?: string;
  pattern?: string;
  ttlMs?: number;
  renewMs?: number;
  retryMs?: number;
  catchUpMs?: number;
  /** Serve /metrics, /healthz, /leader on 127.0.0.1:httpPort (0 = any free port); omit for none. */
  httpPort?: number;
  logger?: Logger;
  onEvent: (event: InstanceEvent) => void;
}

export interface Instance {
  readonly elector: Elector;
  readonly http: ElectionServer | undefined;
  stop(): Promise<void>;
}

export async function startInstance(c: InstanceConfig): Promise<Instance> {
  const { identity, onEvent } = c;
  const elector = new Elector({
    store: c.store,
    election: c.job ?? 'report',
    identity,
    ttlMs: c.ttlMs ?? 3000,
    renewMs: c.renewMs ?? 1000,
    retryMs: c.retryMs ?? 500,
    metrics: prometheusMetrics({ registry: c.registry }),
    ...(c.logger ? { logger: c.logger } : {}),
    data: { identity },
  });
  elector.on('elected', ({ term }) => onEvent({ type: 'elected', identity, term }));
  elector.on('revoked', ({ term, reason }) => onEvent({ type: 'revoked', identity, term, reason }));
  elector.on('error', (error) => onEvent({ type: 'error', identity, message: error.message }));
  const unschedule = scheduleWhileLeader({
    elector,
    ledger: c.ledger,
    job: c.job ?? 'report',
    pattern: c.pattern ?? '*/2 * * * * *',
    catchUpMs: c.catchUpMs ?? 30_000,
    onClaim: (fire, result) =>
      onEvent({
        type: 'claim',
        identity,
        fireAt: fire.fireAt,
        term: fire.term,
        late: fire.late,
        result,
      }),
    run: (fire) => {
      // The job itself: here it only reports. Real work would pass fire.signal and fire.term on.
      onEvent({ type: 'ran', identity, fireAt: fire.fireAt, term: fire.term, late: fire.late });
    },
  });
  const http =
    c.httpPort === undefined
      ? undefined
      : await serveElection({ elector, registry: c.registry, port: c.httpPort });
  await elector.start();
  return {
    elector,
    http,
    async stop() {
      unschedule();
      await elector.stop();
      await http?.close();
    },
  };
}
