/**
 * The lease timing of `tenure run` and `tenure lock` and the kill schedule
 * it allows, checked up front (errors name the flags):
 *
 *   SIGKILL at  deadline − killMarginMs
 *   SIGTERM at  deadline − killMarginMs − graceMs
 *
 * The schedule may only start once a renewal cycle could no longer have
 * confirmed in time, or every slow renewal would stop the command:
 *
 *   graceMs + killMarginMs ≤ (ttl − drift) − renewMs − requestTimeout − poll
 *
 * (`poll`: how late a moved deadline may reach the supervisor).
 */
import { InvalidOptionError } from '../errors.js';
import { resolveLeaseTiming } from '../lock/lease-timing.js';
import type { LeaseTiming } from '../lock/lease-keeper.js';
import { UsageError, integerFlag, type Parsed } from './args.js';
import { DEADLINE_POLL_MS } from './supervised-command.js';

export const TIMING_DEFAULTS = Object.freeze({
  leaseMs: 15_000,
  maxGraceMs: 10_000,
  killMarginMs: 250,
});

export interface KillTiming {
  readonly lease: LeaseTiming;
  readonly graceMs: number;
  readonly killMarginMs: number;
}

const FLAGS: Readonly<Record<string, string>> = {
  ttlMs: '--lease-ms',
  renewMs: '--renew-ms',
  requestTimeoutMs: '--lease-ms',
};

export function resolveKillTiming(parsed: Parsed, retryMs: number): KillTiming {
  const ttlMs = integerFlag(parsed, 'lease-ms', TIMING_DEFAULTS.leaseMs, 100);
  const renewFlag = parsed.values['renew-ms'];
  // Also the request timeout: below 100 ms, renewals would time out on an ordinary network.
  const renewMs = renewFlag === undefined ? undefined : integerFlag(parsed, 'renew-ms', 0, 100);
  let lease: LeaseTiming;
  try {
    lease = resolveLeaseTiming({
      ttlMs,
      renewMs,
      driftFactor: 0.01,
      requestTimeoutMs: undefined,
      retryMs,
    });
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    let message = error.message;
    for (const [option, flag] of Object.entries(FLAGS))
      message = message.replaceAll(`\`${option}\``, flag).replaceAll(option, flag);
    throw new UsageError(message);
  }
  const killMarginMs = integerFlag(parsed, 'kill-margin-ms', TIMING_DEFAULTS.killMarginMs, 10);
  const room =
    lease.ttlMs - lease.driftMs - lease.renewMs - lease.requestTimeoutMs - DEADLINE_POLL_MS;
  const most = room - killMarginMs;
  if (most < 0)
    throw new UsageError(
      `--lease-ms ${lease.ttlMs} leaves no time to stop the command before the deadline: with --renew-ms ${lease.renewMs} and --kill-margin-ms ${killMarginMs} the kill would start before a slow renewal could confirm; raise --lease-ms or lower --renew-ms`,
    );
  const graceMs = integerFlag(parsed, 'grace-ms', Math.min(TIMING_DEFAULTS.maxGraceMs, most), 0);
  if (graceMs > most)
    throw new UsageError(
      `--grace-ms ${graceMs} is too long for --lease-ms ${lease.ttlMs} and --renew-ms ${lease.renewMs}: the command must be dead ${killMarginMs} ms (--kill-margin-ms) before the lease deadline, and SIGTERM may not start before a slow renewal could still confirm, so at most ${most} ms; raise --lease-ms or lower --renew-ms`,
    );
  return { lease, graceMs, killMarginMs };
}
