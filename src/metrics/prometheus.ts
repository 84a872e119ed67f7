/**
 * Prometheus metrics for electors, on a caller-supplied prom-client
 * `Registry` (never the global one implicitly). The only file that imports
 * prom-client; it is published as the `tenure/prometheus` entry point so the
 * main entry does not need prom-client installed.
 *
 * Several electors in one process share the series, told apart by the
 * `election` and `identity` labels; creating a provider twice on one registry
 * reuses the metrics instead of throwing. Gauges (`is_leader`, `term`,
 * `lease_remaining_seconds`) are computed at scrape time from the elector,
 * so they are never stale after an event-loop stall. Labels are bounded:
 * election, identity, reason, result; never a token.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { InvalidOptionError } from '../errors.js';
import { boolean, describe, ownOptions } from '../internal/validate.js';
import type { ElectionMetrics, ElectorProbe, MetricsProvider } from './types.js';

export interface PrometheusMetricsOptions {
  /** The prom-client Registry to register on. Required: tenure never uses the global registry implicitly. */
  registry: Registry;
  /** Prefix of every series name. @default 'tenure_' */
  prefix?: string;
  /** Also export client-go's `leader_election_master_status{name}` for existing Kubernetes dashboards. @default false */
  kubernetesCompat?: boolean;
  /** Export `<prefix>event_loop_delay_seconds{quantile}` from `perf_hooks.monitorEventLoopDelay`. @default true */
  eventLoopDelay?: boolean;
}

const LABELS = ['election', 'identity'] as const;
type Labels = Record<(typeof LABELS)[number], string>;

interface Family {
  readonly probes: Map<string, { labels: Labels; probe: ElectorProbe }>;
  readonly elected: Counter<'election' | 'identity'>;
  readonly revoked: Counter<'election' | 'identity' | 'reason'>;
  readonly attempts: Counter<'election' | 'identity' | 'result'>;
  readonly renewDuration: Histogram<'election' | 'identity'>;
  readonly renewFailures: Counter<'election' | 'identity' | 'reason'>;
  readonly leaderChanges: Counter<'election' | 'identity'>;
}

const families = new WeakMap<Registry, Map<string, Family>>();

export function prometheusMetrics(options: PrometheusMetricsOptions): MetricsProvider {
  const o = ownOptions('options', options, [
    'registry',
    'prefix',
    'kubernetesCompat',
    'eventLoopDelay',
  ]);
  const registry = o['registry'] as Registry | undefined;
  if (
    !registry ||
    typeof registry.registerMetric !== 'function' ||
    typeof registry.getSingleMetric !== 'function'
  ) {
    throw new InvalidOptionError(
      'registry',
      `Expected \`registry\` to be a prom-client Registry, got ${describe(registry)}`,
    );
  }
  const prefix = o['prefix'] ?? 'tenure_';
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
    throw new InvalidOptionError(
      'prefix',
      `Expected \`prefix\` to match /^[a-zA-Z_:][a-zA-Z0-9_:]*$/, got ${describe(prefix)}`,
    );
  }
  let byPrefix = families.get(registry);
  if (!byPrefix) families.set(registry, (byPrefix = new Map<string, Family>()));
  let family = byPrefix.get(prefix);
  if (!family) byPrefix.set(prefix, (family = createFamily(registry, prefix)));
  if (boolean('eventLoopDelay', o['eventLoopDelay'] ?? true))
    ensureEventLoopDelay(registry, prefix);
  if (boolean('kubernetesCompat', o['kubernetesCompat'] ?? false))
    ensureKubernetesCompat(registry, family);
  const f = family;
  return {
    forElector: (labels, probe) =>
      bind(f, { election: labels.election, identity: labels.identity }, probe),
  };
}

function bind(f: Family, labels: Labels, probe: ElectorProbe): ElectionMetrics {
  const key = `${labels.election}\u0000${labels.identity}`;
  f.probes.set(key, { labels, probe });
  // Create the zero-valued series up front so rate() works from the first scrape.
  f.elected.inc(labels, 0);
  f.leaderChanges.inc(labels, 0);
  return {
    attempt: (result) => f.attempts.inc({ ...labels, result }),
    elected: () => f.elected.inc(labels),
    revoked: (reason) => f.revoked.inc({ ...labels, reason }),
    renewed: (durationMs) => f.renewDuration.observe(labels, durationMs / 1000),
    renewFailed: (reason) => f.renewFailures.inc({ ...labels, reason }),
    leaderChanged: () => f.leaderChanges.inc(labels),
    close: () => {
      f.probes.delete(key);
    },
  };
}

/** Returns the metric already registered under `name`, or registers the one `make` builds. */
function reuse<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

function createFamily(registry: Registry, p: string): Family {
  const registers = [registry];
  const probes = new Map<string, { labels: Labels; probe: ElectorProbe }>();
  const gauge = (
    name: string,
    help: string,
    value: (probe: ElectorProbe) => number | null,
  ): void => {
    reuse(
      registry,
      p + name,
      () =>
        new Gauge({
          name: p + name,
          help,
          labelNames: LABELS,
          registers,
          collect() {
            this.reset();
            for (const { labels, probe } of probes.values()) {
              const v = value(probe);
              if (v !== null) this.set(labels, v);
            }
          },
        }),
    );
  };
  gauge(
    'lease_ttl_seconds',
    'The lease ttl this elector asks for (alert rules compare remaining validity and renewal latency with it).',
    (e) => (e.ttlMs ? e.ttlMs() / 1000 : null),
  );
  gauge(
    'is_leader',
    'Whether this elector leads now (1) or not (0), computed at scrape time from its monotonic deadline.',
    (e) => (e.isLeader() ? 1 : 0),
  );
  gauge(
    'term',
    'The term (fencing token) this elector leads with; absent while it does not lead.',
    (e) => e.term(),
  );
  gauge(
    'lease_remaining_seconds',
    'Leadership validity left on the local monotonic clock; 0 when not leading.',
    (e) => e.remainingMs() / 1000,
  );
  return {
    probes,
    elected: reuse(
      registry,
      `${p}elected_total`,
      () =>
        new Counter({
          name: `${p}elected_total`,
          help: 'Times this elector was elected.',
          labelNames: LABELS,
          registers,
        }),
    ),
    revoked: reuse(
      registry,
      `${p}revoked_total`,
      () =>
        new Counter({
          name: `${p}revoked_total`,
          help: 'Times leadership ended, by reason (deadline, lost, refused, released, stopped).',
          labelNames: [...LABELS, 'reason'],
          registers,
        }),
    ),
    attempts: reuse(
      registry,
      `${p}acquire_attempts_total`,
      () =>
        new Counter({
          name: `${p}acquire_attempts_total`,
          help: 'Acquisition attempts, by result (acquired, held, error).',
          labelNames: [...LABELS, 'result'],
          registers,
        }),
    ),
    renewDuration: reuse(
      registry,
      `${p}renew_duration_seconds`,
      () =>
        new Histogram({
          name: `${p}renew_duration_seconds`,
          help: 'Round-trip time of successful lease renewals.',
          labelNames: LABELS,
          buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
          registers,
        }),
    ),
    renewFailures: reuse(
      registry,
      `${p}renew_failures_total`,
      () =>
        new Counter({
          name: `${p}renew_failures_total`,
          help: 'Renewals that failed ambiguously and were retried, by reason (timeout, unavailable, error).',
          labelNames: [...LABELS, 'reason'],
          registers,
        }),
    ),
    leaderChanges: reuse(
      registry,
      `${p}leader_changes_total`,
      () =>
        new Counter({
          name: `${p}leader_changes_total`,
          help: 'Changes of the known leader seen by this participant (observers included), vacancy included.',
          labelNames: LABELS,
          registers,
        }),
    ),
  };
}

const monitors = new WeakMap<Registry, IntervalHistogram>();

function ensureEventLoopDelay(registry: Registry, p: string): void {
  const name = `${p}event_loop_delay_seconds`;
  if (registry.getSingleMetric(name)) return;
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  monitors.set(registry, histogram);
  new Gauge({
    name,
    help: 'Event-loop delay since the previous scrape (quantiles 0.5, 0.99 and 1 = max): a blocked loop is the first cause of lost leases in Node.',
    labelNames: ['quantile'],
    registers: [registry],
    collect() {
      this.set({ quantile: '0.5' }, histogram.percentile(50) / 1e9);
      this.set({ quantile: '0.99' }, histogram.percentile(99) / 1e9);
      this.set({ quantile: '1' }, histogram.max / 1e9);
      histogram.reset();
    },
  });
}

/** Stops the event-loop delay monitor of a registry (its gauge then reports zeros). */
export function stopEventLoopMonitor(registry: Registry): void {
  monitors.get(registry)?.disable();
}

function ensureKubernetesCompat(registry: Registry, f: Family): void {
  const name = 'leader_election_master_status';
  if (registry.getSingleMetric(name)) return;
  new Gauge({
    name,
    help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. (client-go compatible)',
    labelNames: ['name'],
    registers: [registry],
    collect() {
      this.reset();
      const byName = new Map<string, number>();
      for (const { labels, probe } of f.probes.values()) {
        byName.set(
          labels.election,
          Math.max(byName.get(labels.election) ?? 0, probe.isLeader() ? 1 : 0),
        );
      }
      for (const [election, value] of byName) this.set({ name: election }, value);
    },
  });
}
