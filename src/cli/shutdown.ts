/**
 * SIGINT/SIGTERM/SIGHUP handling. While a command has handlers registered
 * (`onShutdown`), the first signal asks them for a clean shutdown and later
 * ones for haste (`run` and `lock` SIGKILL the command). Before and after
 * that (connecting, probing the store, closing), a signal exits at once with
 * the command's code for it (`setSignalExit`): nothing is held yet, or the
 * release is already under way.
 */
import { signalExitCode } from './exit-codes.js';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export type ShutdownSignal = (typeof SIGNALS)[number];

interface Handlers {
  readonly first: (signal: ShutdownSignal) => void;
  readonly again: (signal: ShutdownSignal) => void;
  seen: boolean;
}

let active: Handlers | null = null;
let exitCodeFor: (signal: ShutdownSignal) => number = signalExitCode;

function dispatch(received: NodeJS.Signals): void {
  const signal = received as ShutdownSignal;
  if (active === null) process.exit(exitCodeFor(signal));
  if (active.seen) return active.again(signal);
  active.seen = true;
  active.first(signal);
}

/** Installs the process's signal handlers once; `code` is the exit code of a signal outside `onShutdown`. */
export function setSignalExit(code: (signal: ShutdownSignal) => number): void {
  exitCodeFor = code;
  for (const s of SIGNALS) if (!process.listeners(s).includes(dispatch)) process.on(s, dispatch);
}

/** Calls `first(signal)` on the first signal and `again(signal)` on each later one. Returns a remover. */
export function onShutdown(
  first: (signal: ShutdownSignal) => void,
  again: (signal: ShutdownSignal) => void = () => {},
): () => void {
  for (const s of SIGNALS) if (!process.listeners(s).includes(dispatch)) process.on(s, dispatch);
  const handlers: Handlers = { first, again, seen: false };
  active = handlers;
  return () => {
    if (active === handlers) active = null;
  };
}
