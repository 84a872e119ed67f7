/**
 * deploy/grafana/tenure-dashboard.json and deploy/prometheus/tenure-rules.yml
 * query only series tenure exports: every `tenure_*` name in them (a
 * histogram's `_bucket`/`_sum`/`_count` included) must be registered by
 * `prometheusMetrics()` on a real prom-client Registry. (The rules' behaviour
 * is tested with promtool in test/integration/prometheus-rules.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { prometheusMetrics, stopEventLoopMonitor } from '../../src/metrics/prometheus.js';

const registry = new Registry();
prometheusMetrics({ registry }).forElector(
  { election: 'e', identity: 'i' },
  { isLeader: () => true, term: () => 1, remainingMs: () => 1000, ttlMs: () => 3000 },
);
afterAll(() => stopEventLoopMonitor(registry));

/** Every series name a histogram or plain metric of the registry exposes. */
async function exported(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
  }
  return names;
}

/** `tenure_*` metric names in a PromQL text; recording-rule names (`election:tenure_…`) excluded. */
const metricNames = (text: string): string[] => [
  ...new Set(text.match(/(?<![:\w])tenure_[a-z_]+/g) ?? []),
];

describe('deploy/: dashboards and rules name only exported series', () => {
  it('the Grafana dashboard is valid JSON whose every panel query names only exported metrics', async () => {
    const dashboard = JSON.parse(readFileSync('deploy/grafana/tenure-dashboard.json', 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const names = await exported();
    const queries = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(queries.length).toBeGreaterThanOrEqual(9);
    const used = queries.flatMap(metricNames);
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((n) => !names.has(n))).toEqual([]);
  });

  it('the alert and recording rules name only exported metrics', async () => {
    const names = await exported();
    const used = metricNames(readFileSync('deploy/prometheus/tenure-rules.yml', 'utf8'));
    expect(used).toContain('tenure_is_leader');
    expect(used.filter((n) => !names.has(n))).toEqual([]);
  });

  it('the check itself fires on a name tenure does not export', async () => {
    const names = await exported();
    expect(
      metricNames('sum(tenure_is_leaderz) + tenure_term').filter((n) => !names.has(n)),
    ).toEqual(['tenure_is_leaderz']);
  });
});
