/**
 * SafeEmitter bookkeeping (issue 10, item 6): `off` must forget the wrapper
 * it made in `on`, or every aborted `waitForLeadership()` leaks its listeners.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Elector } from '../../src/election/elector.js';
import { MemoryLeaseStore } from '../../src/lock/memory/memory-store.js';
import { FakeClock } from '../helpers/fake-clock.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() === undefined;
}

describe('SafeEmitter', () => {
  it('off() lets the listener be garbage-collected', async () => {
    const elector = new Elector({ store: new MemoryLeaseStore(), election: 'gc' });
    let listener: (() => void) | undefined = () => undefined;
    const ref = new WeakRef(listener);
    elector.on('leader', listener);
    elector.off('leader', listener);
    listener = undefined;
    expect(await collected(ref)).toBe(true);
  });

  it('aborted waitForLeadership() calls leave nothing behind', async () => {
    const clock = new FakeClock();
    const elector = new Elector({ store: new MemoryLeaseStore({ clock }), clock, election: 'w' });
    let controller: AbortController | undefined = new AbortController();
    const ref = new WeakRef(controller.signal);
    const waiting = elector.waitForLeadership({ signal: controller.signal });
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    controller = undefined;
    expect(elector.listenerCount('elected')).toBe(0);
    expect(elector.listenerCount('state')).toBe(0);
    // The listeners closed over the signal: it is collectable only if their wrappers are gone.
    expect(await collected(ref)).toBe(true);
  });
});
