/**
 * Claim 2: "A metrics provider or logger that throws/rejects in any method never stops
 * renewals or step-down". guardMethods() skips methods that are not functions, so a sink
 * (or a logger child) that lacks one throws a TypeError at the call site, unguarded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import type { Logger } from '../../src/internal/logger.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import type { ElectionMetrics, MetricsProvider } from '../../src/metrics/types.js';
import { checkEventLog, recordEvents } from '../helpers/event-log.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';

const timing = { ttlMs: 1000, renewMs: 250, retryMs: 200, retryJitterMs: 0 };
const emitWarning = process.emitWarning.bind(process);
beforeAll(() => {
  process.emitWarning = () => undefined;
});
afterAll(() => {
  process.emitWarning = emitWarning;
});

describe('hooks with a missing method', () => {
  it('a metrics sink without elected(): the elector still emits elected and keeps campaigning', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore({ clock });
    const noop = (): void => undefined;
    const metrics: MetricsProvider = {
      forElector: () =>
        ({
          attempt: noop,
          revoked: noop,
          renewed: noop,
          renewFailed: noop,
          leaderChanged: noop,
          close: noop,
        }) as unknown as ElectionMetrics, // e.g. a JS sink that does not count elections
    };
    const elector = new Elector({ store, clock, election: 'e', identity: 'a', metrics, ...timing });
    const log = recordEvents(elector);
    await elector.start();
    await clock.advance(10);
    expect(elector.isLeader).toBe(true);
    expect(
      log.some((e) => e.e === 'elected'),
      "an 'elected' event",
    ).toBe(true);
    const stopping = elector.stop();
    await clock.advance(10);
    await stopping;
    expect(checkEventLog(log)).toEqual([]);
  });

  it('a logger whose child() lacks debug(): the elector still campaigns', async () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore({ clock });
    const lines: string[] = [];
    const base = (level: string) => (_: unknown, msg?: string) =>
      void lines.push(`${level} ${msg}`);
    // A logger that is valid at the top level (all four methods) but whose child lacks debug.
    const logger: Logger = {
      debug: base('debug'),
      info: base('info'),
      warn: base('warn'),
      error: base('error'),
      child: () => ({ info: base('info'), warn: base('warn'), error: base('error') }) as Logger,
    };
    const elector = new Elector({ store, clock, election: 'e', identity: 'a', logger, ...timing });
    await elector.start();
    await clock.advance(10);
    await settle();
    expect(elector.isLeader, 'leads after start()').toBe(true);
    await elector.stop();
  });

  it('a metrics provider whose forElector() throws fails fast: new Elector() throws its error (documented)', () => {
    const clock = new FakeClock();
    const store = new MemoryLeaseStore({ clock });
    const metrics: MetricsProvider = {
      forElector: () => {
        throw new Error('registry conflict');
      },
    };
    expect(() => new Elector({ store, clock, election: 'e', metrics, ...timing })).toThrow(
      'registry conflict',
    );
  });
});
