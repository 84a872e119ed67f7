/**
 * The logging surface tenure uses: a subset of pino's API, so a pino logger
 * (or a child of one) can be passed as is. Silent by default. Ownership
 * tokens and connection credentials are never passed to the logger.
 */
export interface Logger {
  debug(obj: Record<string, unknown>, msg?: string): void;
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
  /** pino's child loggers; bound fields are added to every line. */
  child?(bindings: Record<string, unknown>): Logger;
}

const noop = (): void => undefined;

export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

export function childLogger(logger: Logger, bindings: Record<string, unknown>): Logger {
  if (typeof logger.child === 'function') return logger.child(bindings);
  const wrap =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (obj: Record<string, unknown>, msg?: string): void =>
      logger[level]({ ...bindings, ...obj }, msg);
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') };
}
