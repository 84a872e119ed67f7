/**
 * One read before `lock` and `run` start, so a wrong URL, a server that is
 * down or a refused login ends with exit 69 at once instead of a silent wait.
 * `run` tolerates a store that is only unreachable at start (a fleet
 * restarted during an outage keeps campaigning); a definite refusal (auth,
 * configuration, a host name that does not exist) still ends it.
 */
import { systemClock } from '../internal/clock.js';
import { withTimeout } from '../internal/timeout.js';
import { isPermanent } from '../lock/error-kinds.js';
import type { LeaseStore } from '../lock/lease-store.js';
import { connectFailure, describeConnectFailure } from './connect-failure.js';
import type { CliLog } from './log.js';

/** How long the read may take, unless the caller's bound (`--wait-ms`) is shorter. */
export const PROBE_TIMEOUT_MS = 5_000;

export async function probeStore(
  store: LeaseStore,
  name: string,
  log: CliLog,
  tolerateUnavailable: boolean,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<void> {
  try {
    await withTimeout(store.read(name), timeoutMs, systemClock, 'read');
  } catch (error) {
    const failure = connectFailure(error);
    if (!tolerateUnavailable || isPermanent(error) || failure?.definite === true) throw error;
    log.warn(
      { err: error },
      `${failure === null ? 'the store did not answer' : describeConnectFailure(failure)}; campaigning anyway`,
    );
  }
}
