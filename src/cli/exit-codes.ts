/**
 * Exit codes of the `tenure` command line (README "Command line"). Codes from
 * sysexits.h where one fits; a command's own exit code passes through
 * unchanged for `tenure lock`, so a command that itself exits 64–79 is
 * indistinguishable from these (the log line on stderr says which it was).
 */
import { constants } from 'node:os';

export const EXIT = Object.freeze({
  /** Success; for `run`, also a shutdown asked for by SIGTERM/SIGINT that stopped the command and released the lease. */
  ok: 0,
  /** Bad arguments, an unknown or unsupported store URL, invalid timing. */
  usage: 64,
  /** The store refused the connection or the login, its host name was not found, it did not answer in time, or a needed client package is missing. */
  unavailable: 69,
  /**
   * The store is reachable but not set up as tenure needs: the PostgreSQL
   * lease table is missing (run `tenure init`) or has another schema, or the
   * server's configuration is unsafe for leases.
   */
  config: 78,
  /** A bug or an unexpected failure inside tenure (e.g. its supervisor process died). */
  internal: 70,
  /** `lock`: not acquired within `--wait-ms`. */
  notAcquired: 75,
  /** `lock`: the lock was lost while the command ran; the command was stopped before the lease deadline. */
  lost: 76,
});

/** Exit code of a command that was ended by a signal: 128 + its number, as shells report it. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}
