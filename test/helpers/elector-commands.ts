/**
 * The commands of the elector's model-based property tests: time advances
 * (short ones let replies arrive late but before the request timeout, 200 ms:
 * the window where a reply-time deadline would differ from a send-time one),
 * stalls (time jumps without timers: SIGSTOP, a blocked loop), store replies
 * picked among the open calls, and `resign()` / `stop()`. `replyWeight` tunes
 * how often a reply comes.
 */
import fc from 'fast-check';

export type Command =
  | { kind: 'advance'; ms: number }
  | { kind: 'stall'; ms: number }
  | { kind: 'reply'; pick: number; answer: number; remainingMs: number }
  | { kind: 'resign' }
  | { kind: 'stop' };

export function commands(replyWeight = 5): fc.Arbitrary<Command> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('advance' as const),
        ms: fc.integer({ min: 1, max: 150 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('advance' as const),
        ms: fc.integer({ min: 150, max: 600 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('stall' as const),
        ms: fc.integer({ min: 1, max: 2500 }),
      }),
    },
    {
      weight: replyWeight,
      arbitrary: fc.record({
        kind: fc.constant('reply' as const),
        pick: fc.nat(),
        answer: fc.integer({ min: 0, max: 9 }),
        remainingMs: fc.integer({ min: 0, max: 1500 }),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'resign' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'stop' as const }) },
  );
}

export const command = commands();
