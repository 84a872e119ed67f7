/**
 * A typed eventemitter3 whose listeners cannot hurt the emitter.
 *
 * Contract:
 * - Each listener runs in its own try/catch (rejected promises included); a
 *   failure is handed to `onListenerError`, never propagated into the
 *   emitter's timers and never skipping the other listeners.
 * - User code runs outside transitions. Events (and deferred callbacks, such
 *   as leader tasks) go to an ordered outbox. Inside `commit(fn)` nothing is
 *   delivered; the outbox is drained when the outermost commit ends, so a
 *   listener always sees a fully committed state. A listener that calls back
 *   into the owner (for example `resign()` from `elected`) runs its own
 *   commit to the end; the events it causes are appended and delivered after
 *   the ones already queued, so every listener sees the events in the order
 *   the transitions happened.
 * - An event may carry a guard (`emitWhile`), checked before each listener:
 *   once it says no, the remaining listeners are skipped. The elector's guard
 *   checks a term's validity on the clock, so a listener that stalls the
 *   event loop past the deadline keeps the next ones from starting the
 *   term's work. A `once` listener skipped this way stays registered.
 * - `off` forgets its wrapper, so adding and removing listeners in a loop
 *   does not grow memory.
 */
import { EventEmitter } from 'eventemitter3';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- listener parameter types come from the Events map
type Listener = (...args: any[]) => unknown;

export class SafeEmitter<Events extends { [E in keyof Events]: Listener }> {
  readonly #emitter = new EventEmitter();
  readonly #wrapped = new Map<Listener, Map<keyof Events, Listener[]>>();
  readonly #onListenerError: (error: unknown, event: keyof Events | 'task') => void;
  readonly #outbox: (() => void)[] = [];
  /** The guard of the event being delivered, if it has one. */
  #guard: (() => boolean) | undefined;
  #depth = 0;
  #draining = false;

  constructor(onListenerError: (error: unknown, event: keyof Events | 'task') => void) {
    this.#onListenerError = onListenerError;
  }

  on<E extends keyof Events>(event: E, listener: Events[E]): this {
    this.#emitter.on(event as string, this.#wrap(event, listener, false));
    return this;
  }

  once<E extends keyof Events>(event: E, listener: Events[E]): this {
    // Registered with on(): the wrapper removes itself when it is delivered, not when skipped.
    this.#emitter.on(event as string, this.#wrap(event, listener, true));
    return this;
  }

  off<E extends keyof Events>(event: E, listener: Events[E]): this {
    const wrapped = this.#wrapped.get(listener)?.get(event)?.at(-1);
    if (wrapped) {
      this.#emitter.off(event as string, wrapped);
      this.#forget(event, listener, wrapped);
    }
    return this;
  }

  listenerCount(event: keyof Events): number {
    return this.#emitter.listenerCount(event as string);
  }

  /** Runs `fn` (which must not call user code) and delivers what it queued once the outermost commit ends. */
  protected commit<T>(fn: () => T): T {
    this.#depth++;
    try {
      return fn();
    } finally {
      this.#depth--;
      this.#drain();
    }
  }

  /** Queues an event; delivered at once unless a commit is open. */
  protected emitSafely<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    this.#outbox.push(() => this.#emitter.emit(event as string, ...args));
    this.#drain();
  }

  /** Queues an event whose listeners each run only while `guard()` says yes (checked before each). */
  protected emitWhile<E extends keyof Events>(
    guard: () => boolean,
    event: E,
    ...args: Parameters<Events[E]>
  ): void {
    this.#outbox.push(() => {
      this.#guard = guard;
      try {
        this.#emitter.emit(event as string, ...args);
      } finally {
        this.#guard = undefined;
      }
    });
    this.#drain();
  }

  /** Queues user code (a leader task) behind the queued events; a throw is reported as `task`. */
  protected defer(fn: () => void): void {
    this.#outbox.push(() => {
      try {
        fn();
      } catch (error) {
        this.#onListenerError(error, 'task');
      }
    });
    this.#drain();
  }

  protected removeAllListeners(): void {
    this.#emitter.removeAllListeners();
    this.#wrapped.clear();
  }

  #drain(): void {
    if (this.#depth > 0 || this.#draining) return;
    this.#draining = true;
    try {
      for (let next = this.#outbox.shift(); next; next = this.#outbox.shift()) {
        try {
          next();
        } catch {
          // Unreachable: listeners and deferred callbacks are wrapped. Never stop the drain.
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  #wrap<E extends keyof Events>(event: E, listener: Events[E], once: boolean): Listener {
    if (typeof listener !== 'function')
      throw new TypeError(`Expected the \`${String(event)}\` listener to be a function`);
    const wrapped = (...args: unknown[]): void => {
      const guard = this.#guard;
      if (guard !== undefined && !guard()) return;
      if (once) {
        this.#emitter.off(event as string, wrapped);
        this.#forget(event, listener, wrapped);
      }
      try {
        const result = (listener as Listener)(...args);
        if (result && typeof (result as Promise<unknown>).then === 'function') {
          (result as Promise<unknown>).then(undefined, (error: unknown) =>
            this.#onListenerError(error, event),
          );
        }
      } catch (error) {
        this.#onListenerError(error, event);
      }
    };
    let byEvent = this.#wrapped.get(listener);
    if (!byEvent) this.#wrapped.set(listener, (byEvent = new Map<keyof Events, Listener[]>()));
    const list = byEvent.get(event) ?? [];
    list.push(wrapped);
    byEvent.set(event, list);
    return wrapped;
  }

  #forget(event: keyof Events, listener: Listener, wrapped: Listener): void {
    const byEvent = this.#wrapped.get(listener);
    const list = byEvent?.get(event);
    const i = list?.indexOf(wrapped) ?? -1;
    if (!byEvent || !list || i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) byEvent.delete(event);
    if (byEvent.size === 0) this.#wrapped.delete(listener);
  }
}
