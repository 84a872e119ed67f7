/**
 * Runs one statement on a client from the caller's pool, bounded in time.
 *
 * Contract: resolves with the rows; or rejects with the raw server error
 * (the caller classifies it); or with `NotSentError` when no pooled
 * connection came within `timeoutMs` or the pool could not connect (never
 * applied); or with `StoreTimeoutError` (ambiguous) once `timeoutMs` has
 * passed while the statement ran. Then a cancel request is sent for it
 * (PostgreSQL's CancelRequest, on a connection of its own) and the
 * connection is discarded at once, so neither a late reply nor the cancel
 * can reach the next statement. Cancelling is best effort: a statement
 * already in the server's hands may still apply (a stalled server runs it
 * when it resumes, before it accepts the cancel); callers that must undo
 * such a late effect do it themselves (the store hands a late grant back).
 * The client goes back to the pool when the statement settles; it is
 * discarded after a connection error or a timeout (its reply may never
 * come, and a late one must not be read by the next statement). A client
 * that arrives after the timeout is returned unused. While checked out it
 * has an 'error' listener, so a connection that breaks never crashes the
 * process.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { StoreTimeoutError } from '../../errors.js';
import { isConnectionError } from './classify-error.js';
import type { PgClientLike, PgPoolLike, PgQueryResult } from './pg-types.js';

/** The statement never reached the server: `cause` is why (the caller classifies it as not applied). */
export class NotSentError extends Error {
  constructor(message: string, options: { cause?: unknown }) {
    super(message, options);
  }
}

export interface StatementOptions {
  /** A name makes it a named prepared statement: parsed and planned once per connection. */
  readonly name?: string | undefined;
}

export function runStatement(
  pool: PgPoolLike,
  operation: string,
  text: string,
  values: unknown[],
  timeoutMs: number,
  options: StatementOptions = {},
): Promise<PgQueryResult['rows']> {
  const { name } = options;
  return new Promise((resolve, reject) => {
    let timedOut = false;
    let onTimeout: (() => void) | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      if (onTimeout) {
        onTimeout();
        reject(new StoreTimeoutError(operation, timeoutMs));
      } else {
        reject(
          new NotSentError(
            `no pooled connection within ${timeoutMs} ms; \`${operation}\` not sent`,
            {},
          ),
        );
      }
    }, timeoutMs);
    timer.unref?.();
    pool.connect().then(
      (client) => {
        if (timedOut) {
          client.release();
          return;
        }
        // Checked out, the client has no 'error' listener of the pool's: a connection
        // that breaks now would otherwise be an uncaught 'error' event.
        const ignore = (): void => undefined;
        client.on?.('error', ignore);
        let released = false;
        const release = (error?: Error): void => {
          if (released) return;
          released = true;
          if (!error) client.off?.('error', ignore);
          client.release(error);
        };
        onTimeout = () => {
          // Ask the server to cancel it (it may be waiting for a lock, a standby or a
          // stalled server), and discard the connection: its late reply, or the cancel
          // arriving late, must not meet the next statement on it.
          cancelStatement(client);
          release(new Error(`statement \`${operation}\` timed out after ${timeoutMs} ms`));
        };
        client.query(name ? { name, text, values } : { text, values }).then(
          (result) => {
            release();
            if (timedOut) return;
            clearTimeout(timer);
            resolve(result.rows);
          },
          (error: unknown) => {
            release(isConnectionError(error) ? (error as Error) : undefined);
            if (timedOut) return;
            clearTimeout(timer);
            reject(error);
          },
        );
      },
      (error: unknown) => {
        if (timedOut) return;
        clearTimeout(timer);
        reject(
          new NotSentError(error instanceof Error ? error.message : String(error), {
            cause: error,
          }),
        );
      },
    );
  });
}

const CANCEL_REQUEST_CODE = 80877102;

/**
 * Asks the server to cancel the statement `client` is running (best
 * effort: no answer is expected; the socket closes itself within 5 s).
 */
export function cancelStatement(client: PgClientLike): void {
  const { processID, secretKey, host, port } = client;
  if (typeof processID !== 'number' || typeof secretKey !== 'number' || !port) return;
  let socket: Socket;
  try {
    socket =
      host && host.startsWith('/')
        ? connectTcp(`${host}/.s.PGSQL.${port}`)
        : connectTcp(port, host ?? 'localhost');
  } catch {
    return;
  }
  socket.unref();
  socket.setTimeout(5000, () => socket.destroy());
  socket.on('error', () => undefined);
  socket.on('connect', () => {
    const message = Buffer.alloc(16);
    message.writeInt32BE(16, 0);
    message.writeInt32BE(CANCEL_REQUEST_CODE, 4);
    message.writeInt32BE(processID, 8);
    message.writeInt32BE(secretKey, 12);
    socket.end(message);
  });
}
