/**
 * A typed eventemitter3 whose listeners cannot hurt the emitter: each
 * listener runs in its own try/catch (rejected promises included) and a
 * failure is handed to `onListenerError` instead of propagating into the
 * elector's timers or skipping the other listeners.
 */
import { EventEmitter } from 'eventemitter3';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- listener parameter types come from the Events map
type Listener = (...args: any[]) => unknown;

export class SafeEmitter<Events extends { [E in keyof Events]: Listener }> {
  readonly #emitter = new EventEmitter();
  readonly #wrapped = new Map<Listener, Map<keyof Events, Listener[]>>();
  readonly #onListenerError: (error: unknown, event: keyof Events) => void;

  constructor(onListenerError: (error: unknown, event: keyof Events) => void) {
    this.#onListenerError = onListenerError;
  }

  on<E extends keyof Events>(event: E, listener: Events[E]): this {
    this.#emitter.on(event as string, this.#wrap(event, listener, false));
    return this;
  }

  once<E extends keyof Events>(event: E, listener: Events[E]): this {
    this.#emitter.once(event as string, this.#wrap(event, listener, true));
    return this;
  }

  off<E extends keyof Events>(event: E, listener: Events[E]): this {
    const list = this.#wrapped.get(listener)?.get(event);
    const wrapped = list?.pop();
    if (wrapped) this.#emitter.off(event as string, wrapped);
    return this;
  }

  listenerCount(event: keyof Events): number {
    return this.#emitter.listenerCount(event as string);
  }

  protected emitSafely<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    this.#emitter.emit(event as string, ...args);
  }

  protected removeAllListeners(): void {
    this.#emitter.removeAllListeners();
    this.#wrapped.clear();
  }

  #wrap<E extends keyof Events>(event: E, listener: Events[E], once: boolean): Listener {
    if (typeof listener !== 'function')
      throw new TypeError(`Expected the \`${String(event)}\` listener to be a function`);
    const wrapped = (...args: unknown[]): void => {
      if (once) this.#forget(event, listener, wrapped);
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
    const list = this.#wrapped.get(listener)?.get(event);
    const i = list?.indexOf(wrapped) ?? -1;
    if (list && i >= 0) list.splice(i, 1);
  }
}
