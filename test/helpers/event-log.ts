import type { Elector } from '../../src/election/elector.js';

export type Logged =
  | { e: 'elected'; term: number }
  | { e: 'revoked'; term: number; reason: string }
  | { e: 'leader'; identity: string | null; term: number | null }
  | { e: 'state'; from: string; to: string }
  | { e: 'error'; message: string };

/** Records every event an elector emits, in order. */
export function recordEvents(elector: Elector): Logged[] {
  const log: Logged[] = [];
  elector.on('elected', ({ term }) => log.push({ e: 'elected', term }));
  elector.on('revoked', ({ term, reason }) => log.push({ e: 'revoked', term, reason }));
  elector.on('leader', (l) =>
    log.push({ e: 'leader', identity: l?.identity ?? null, term: l?.term ?? null }),
  );
  elector.on('state', ({ from, to }) => log.push({ e: 'state', from, to }));
  elector.on('error', (err) => log.push({ e: 'error', message: err.message }));
  return log;
}

const LEGAL = new Set([
  'follower>candidate',
  'candidate>follower',
  'candidate>leader',
  'leader>follower',
  'follower>stopped',
  'candidate>stopped',
]);

/** Invariants every event log must satisfy. Returns the problems found (empty when fine). */
export function checkEventLog(log: readonly Logged[]): string[] {
  const problems: string[] = [];
  let leading: number | null = null;
  let lastTerm = -Infinity;
  let state = 'follower';
  for (const entry of log) {
    if (entry.e === 'state') {
      if (entry.from !== state)
        problems.push(`state event from ${entry.from} but state was ${state}`);
      if (!LEGAL.has(`${entry.from}>${entry.to}`))
        problems.push(`illegal transition ${entry.from}>${entry.to}`);
      state = entry.to;
    } else if (entry.e === 'elected') {
      if (leading !== null) problems.push(`elected ${entry.term} while leading ${leading}`);
      if (entry.term <= lastTerm) problems.push(`term ${entry.term} not above ${lastTerm}`);
      if (state !== 'leader') problems.push(`elected while state ${state}`);
      leading = entry.term;
      lastTerm = entry.term;
    } else if (entry.e === 'revoked') {
      if (leading !== entry.term)
        problems.push(`revoked ${entry.term} without elected (leading ${leading})`);
      leading = null;
    }
  }
  return problems;
}
