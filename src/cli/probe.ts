/**
 * One read before `lock` and `run` start, so a wrong URL, a server that is
 * down or a refused login ends with exit 69 at once instead of a silent wait.
 * `run` tolerates a store that is only unreachable at start (a fleet
 * restarted during an outage keeps campaigning); a definite refusal (auth,
 * configuration) still ends it.
 */
import { systemClock } from '../internal/clock.js';
import { withTimeout } from '../internal/timeout.js';
import { isPermanent } from '../lock/error-kinds.js';
import type { LeaseStore } from '../lock/lease-store.js';
import type { CliLog } from './log.js';

const PROBE_TIMEOUT_MS = 5_000;

export async function probeStore(
  store: LeaseStore,
  name: string,
  log: CliLog,
  tolerateUnavailable: boolean,
): Promise<void> {
  try {
    await withTimeout(store.read(name), PROBE_TIMEOUT_MS, systemClock, 'read');
  } catch (error) {
    if (!tolerateUnavailable || isPermanent(error)) throw error;
    log.warn({ err: error }, 'the store did not answer; campaigning anyway');
  }
}
