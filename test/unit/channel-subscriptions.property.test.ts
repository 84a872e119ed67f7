/**
 * Claim 6: ChannelSubscriptions (Redis): concurrent add/remove races never leave a channel
 * unsubscribed while a listener is registered, or subscribed with no listener.
 * Model: a fake connection that answers SUBSCRIBE / UNSUBSCRIBE in order (as Redis does on one
 * connection), each SUBSCRIBE may fail (not applied). At quiescence (every command answered),
 * the server's subscription set must equal the set of channels with a live listener.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import {
  ChannelSubscriptions,
  type SubscriberConnection,
} from '../../src/lock/channel-subscriptions.js';

type Op =
  | { k: 'add'; ch: number }
  | { k: 'remove'; pick: number }
  | { k: 'answer'; fail: boolean }
  | { k: 'tick' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('add' as const), ch: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ k: fc.constant('remove' as const), pick: fc.nat() }),
  fc.record({ k: fc.constant('answer' as const), fail: fc.boolean() }),
  fc.constant({ k: 'tick' as const }),
);

const ticks = async (n = 5) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

it('server subscriptions match live listeners after any add/remove/failure interleaving', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
      const server = new Set<string>();
      const queue: {
        cmd: 'sub' | 'unsub';
        ch: string;
        resolve: () => void;
        reject: (e: Error) => void;
      }[] = [];
      const conn: SubscriberConnection = {
        subscribe: (ch) =>
          new Promise((resolve, reject) =>
            queue.push({ cmd: 'sub', ch, resolve: () => resolve(1), reject }),
          ),
        unsubscribe: (ch) =>
          new Promise((resolve, reject) =>
            queue.push({ cmd: 'unsub', ch, resolve: () => resolve(0), reject }),
          ),
        on: () => undefined,
        disconnect: () => undefined,
      };
      const subs = new ChannelSubscriptions(() => conn);
      const live: { ch: string; off: () => void }[] = [];
      const answer = (fail: boolean) => {
        const c = queue.shift();
        if (!c) return;
        if (c.cmd === 'sub' && fail) return c.reject(new Error('ERR subscribe failed'));
        if (c.cmd === 'sub') server.add(c.ch);
        else server.delete(c.ch);
        c.resolve();
      };
      for (const o of ops) {
        if (o.k === 'add') {
          const ch = `c${o.ch}`;
          subs
            .add(ch, () => undefined)
            .then(
              (off) => live.push({ ch, off }),
              () => undefined,
            );
        } else if (o.k === 'remove') {
          const i = live.length ? o.pick % live.length : -1;
          if (i >= 0) live.splice(i, 1)[0]?.off();
        } else if (o.k === 'answer') answer(o.fail);
        await ticks(o.k === 'tick' ? 20 : 1);
      }
      // quiesce: answer everything successfully
      for (let i = 0; i < 50 && queue.length; i++) {
        answer(false);
        await ticks(10);
      }
      const expected = new Set(live.map((l) => l.ch));
      expect([...server].sort()).toEqual([...expected].sort());
    }),
    { numRuns: 3000 },
  );
});
