/**
 * SIGINT/SIGTERM/SIGHUP handling for the long-running commands: the first
 * signal asks for a clean shutdown (`onShutdown` callbacks), a second one
 * asks for haste (`onSecondSignal`), which `run` and `lock` use to SIGKILL
 * the command at once.
 */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export type ShutdownSignal = (typeof SIGNALS)[number];

/** Calls `first(signal)` on the first signal and `again(signal)` on each later one. Returns a remover. */
export function onShutdown(
  first: (signal: ShutdownSignal) => void,
  again: (signal: ShutdownSignal) => void = () => {},
): () => void {
  let seen = false;
  const handler = (signal: ShutdownSignal): void => {
    if (seen) return again(signal);
    seen = true;
    first(signal);
  };
  for (const s of SIGNALS) process.on(s, handler);
  return () => {
    for (const s of SIGNALS) process.off(s, handler);
  };
}
