import { type Clock, type TimerHandle, systemClock } from '../../src/internal/clock.js';

/** The system clock, counting timers that are scheduled and neither fired nor cleared. */
export class CountingClock implements Clock {
  readonly #live = new Set<TimerHandle>();

  get live(): number {
    return this.#live.size;
  }

  now(): number {
    return systemClock.now();
  }

  setTimeout(fn: () => void, ms: number, keepAlive?: boolean): TimerHandle {
    const handle = systemClock.setTimeout(
      () => {
        this.#live.delete(handle);
        fn();
      },
      ms,
      keepAlive,
    );
    this.#live.add(handle);
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#live.delete(handle);
    systemClock.clearTimeout(handle);
  }
}
