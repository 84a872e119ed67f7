import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import { StoreUnavailableError } from '../../src/errors.js';
import type { AcquireRequest, AcquireResult, RenewResult } from '../../src/lock/lease-store.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { ScriptedStore } from '../helpers/scripted-store.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines, raw };
}

describe('logging through a pino logger', () => {
  it('binds election, identity and term; info on transitions, warn on failures, debug on attempts; never a token', async () => {
    const { logger, lines, raw } = capture();
    const clock = new FakeClock();
    const store = new ScriptedStore(() => clock.now());
    const elector = new Elector({
      store,
      clock,
      logger,
      election: 'billing',
      identity: 'host-1',
      ttlMs: 1000,
      renewMs: 250,
      retryMs: 200,
      retryJitterMs: 0,
    });
    const started = elector.start();
    await settle();
    store.pending<AcquireResult>('acquire').resolve({ acquired: true, term: 42 });
    await started;
    await clock.advance(250);
    store
      .pending<RenewResult>('renew')
      .reject(new StoreUnavailableError('Connection is closed.', { ambiguous: true }));
    await clock.advance(800); // no renewal confirmed: deadline
    await settle();
    await new Promise((r) => setTimeout(r, 20)); // pino writes asynchronously
    const stop = elector.stop();
    await clock.advance(1000);
    for (const c of store.calls)
      if (!c.settled) c.reject(new StoreUnavailableError('closed', { ambiguous: true }));
    await clock.advance(1000);
    await stop;
    await new Promise((r) => setTimeout(r, 20));

    expect(lines.every((l) => l['election'] === 'billing' && l['identity'] === 'host-1')).toBe(
      true,
    );
    const elected = lines.find((l) => l['event'] === 'elected');
    expect(elected).toMatchObject({ level: 30, term: 42 });
    expect(lines.find((l) => l['event'] === 'attempt')).toMatchObject({ level: 20 });
    const failure = lines.find(
      (l) => l['msg'] === 'renewal failed; still leading until the deadline',
    );
    expect(failure).toMatchObject({
      level: 40,
      term: 42,
      err: { code: 'TENURE_STORE_UNAVAILABLE' },
    });
    expect(lines.find((l) => l['event'] === 'revoked')).toMatchObject({
      level: 40,
      term: 42,
      reason: 'deadline',
    });
    const tokens = store.of('acquire').map((c) => (c.args[0] as AcquireRequest).token.reveal());
    expect(tokens.length).toBeGreaterThan(0);
    for (const token of tokens) expect(raw.join('\n')).not.toContain(token);
  });
});
