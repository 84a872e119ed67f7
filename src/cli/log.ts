/**
 * tenure's own lines on stderr (stdout belongs to the command being run and
 * to `status`/`observe` output). Human-readable by default, one JSON object
 * per line with `--json`. It is also the Elector's and the store's logger
 * (pino-compatible surface): warnings always, info with `--verbose`.
 */
import type { Logger } from '../internal/logger.js';

type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Readonly<Record<Level, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface CliLog extends Logger {
  /** tenure's own milestones (elected, command started, stopped): always shown. */
  event(msg: string, fields?: Record<string, unknown>): void;
}

export function createLog(json: boolean, verbose: boolean): CliLog {
  const least: Level = verbose ? 'debug' : 'warn';
  const write = (level: Level | 'event', obj: Record<string, unknown>, msg?: string): void => {
    if (level !== 'event' && RANK[level] < RANK[least]) return;
    const fields = { ...obj };
    if (fields['err'] instanceof Error) fields['err'] = fields['err'].message;
    if (json) {
      const line = {
        time: new Date().toISOString(),
        level: level === 'event' ? 'info' : level,
        msg,
        ...fields,
      };
      process.stderr.write(`${JSON.stringify(line)}\n`);
      return;
    }
    const extra = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    const prefix = level === 'event' || level === 'info' ? 'tenure:' : `tenure ${level}:`;
    process.stderr.write(`${prefix} ${msg ?? ''}${extra ? ` (${extra})` : ''}\n`);
  };
  const at =
    (level: Level) =>
    (obj: Record<string, unknown>, msg?: string): void =>
      write(level, obj, msg);
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    event: (msg, fields = {}) => write('event', fields, msg),
  };
}
