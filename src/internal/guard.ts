/**
 * Isolation for objects the user hands in (a metrics sink, a logger): every
 * method of the returned object runs the original in a try/catch, and a
 * returned promise that rejects is caught too. A failure goes to `onError`
 * and the call returns `undefined`, so a faulty hook can never interrupt a
 * transition half-way (say, after the deadline timer was disarmed but before
 * the next renewal was scheduled). A listed method the target lacks becomes a
 * no-op. `onError` itself must not throw.
 */
export function guardMethods<T extends object>(
  target: T,
  methods: readonly (keyof T & string)[],
  onError: (error: unknown, method: string) => void,
): T {
  const guarded = Object.create(null) as Record<string, unknown>;
  for (const method of methods) {
    const fn = target[method];
    // A missing method (a plain-JS sink, a logger child without `debug`) is a no-op.
    if (typeof fn !== 'function') {
      guarded[method] = () => undefined;
      continue;
    }
    guarded[method] = (...args: unknown[]): unknown => {
      try {
        const result: unknown = (fn as (...a: unknown[]) => unknown).apply(target, args);
        if (result && typeof (result as Promise<unknown>).then === 'function')
          (result as Promise<unknown>).then(undefined, (error: unknown) => onError(error, method));
        return undefined;
      } catch (error) {
        onError(error, method);
        return undefined;
      }
    };
  }
  return guarded as T;
}

/** Calls `fn`; a throw goes to `onError` (which must not throw). */
export function isolate(fn: () => void, onError: (error: unknown) => void): void {
  try {
    fn();
  } catch (error) {
    onError(error);
  }
}
