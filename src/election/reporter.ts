/**
 * Where the elector's failures go: a warn line on the logger always, then
 * the `error` event if anyone listens; otherwise (no listener, no logger) a
 * process warning once per error code. Nothing here ever throws: the logger
 * is the user's code, so `log` is a guarded copy whose failures become one
 * process warning (never an `error` event, which a listener might log again).
 */
import { StoreTimeoutError, StoreUnavailableError, type TenureError } from '../errors.js';
import { guardMethods } from '../internal/guard.js';
import type { Logger } from '../internal/logger.js';
import type { RenewFailure } from '../metrics/types.js';

export class Reporter {
  /** The user's logger, guarded: a throwing logger is reported once and never interrupts the caller. */
  readonly log: Logger;
  readonly #election: string;
  readonly #silent: boolean;
  readonly #emit: (error: Error) => boolean;
  readonly #warned = new Set<string>();

  /** `emit` hands the error to `error` listeners and returns whether there were any. */
  constructor(
    log: Logger,
    election: string,
    loggerGiven: boolean,
    emit: (error: Error) => boolean,
  ) {
    this.#election = election;
    this.log = guardMethods(log, ['debug', 'info', 'warn', 'error'], (error) =>
      this.#loggerFailed(error),
    );
    this.#silent = !loggerGiven;
    this.#emit = emit;
  }

  report(error: unknown, context: string, term: number | null): void {
    const err = toError(error);
    this.log.warn({ err: summarize(err), term }, context);
    if (!this.#emit(err)) this.#warnOnce(err);
  }

  /** A listener threw; an `error` listener's failure is only logged (no loop). */
  listenerFailed(error: unknown, event: string, term: number | null): void {
    if (event !== 'error') {
      this.report(error, `a '${event}' listener failed`, term);
      return;
    }
    const err = toError(error);
    this.log.error({ err: summarize(err) }, 'an error listener threw');
    this.#warnOnce(err);
  }

  /** A deployment problem found at start (e.g. replicas without waitReplicas). */
  deployment(warning: string): void {
    this.log.warn({ event: 'deployment' }, warning);
    if (this.#silent)
      process.emitWarning(`tenure elector ${JSON.stringify(this.#election)}: ${warning}`, {
        code: 'TENURE_DEPLOYMENT',
      });
  }

  #loggerFailed(error: unknown): void {
    if (this.#warned.has('logger')) return;
    this.#warned.add('logger');
    process.emitWarning(
      `tenure elector ${JSON.stringify(this.#election)}: the logger threw (${toError(error).message}); further logger failures are not reported`,
      { code: 'TENURE_HOOK_FAILED' },
    );
  }

  #warnOnce(err: Error): void {
    if (!this.#silent) return;
    const code = (err as Partial<TenureError>).code ?? err.name;
    if (this.#warned.has(code)) return;
    this.#warned.add(code);
    process.emitWarning(
      `tenure elector ${JSON.stringify(this.#election)}: ${err.message} (further ${code} errors are not repeated; listen to 'error' or pass a logger)`,
      { code: 'TENURE_UNHANDLED_ERROR' },
    );
  }
}

export function renewFailure(error: TenureError): RenewFailure {
  if (error instanceof StoreTimeoutError) return 'timeout';
  if (error instanceof StoreUnavailableError) return 'unavailable';
  return 'error';
}

/** What goes into a log line about an error: never `cause` chains with command arguments. */
export function summarize(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const code = (error as Partial<TenureError>).code;
  return { type: error.name, message: error.message, ...(code ? { code } : {}) };
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
