/**
 * A guard against an ioredis race in Sentinel mode (ioredis 6.0.0, and the
 * same code in 6.1.0): with `failoverDetector: true`, the detector of the
 * connection that was lost stays subscribed to the sentinels. When their
 * `+switch-master` arrives while the client, reconnecting, waits for a
 * sentinel to name the primary, the detector's `disconnect()` clears the
 * connector's `connecting` flag, `SentinelConnector#connect` throws
 * "Connection is closed.", and the client's status becomes `end`. It never
 * reconnects: every later command fails (found through fault row SQ3,
 * docs/safety.md: two of three electors were left without a store after a
 * fail-over, and the next leader came 15 s late).
 *
 * The guard reconnects such a client after its own `retryStrategy` delay. It
 * acts only on a Sentinel client whose status went from `connecting`
 * straight to `end` (a closed socket goes through `close`, and `quit()` or
 * `disconnect()` of a connected client too) with the connector's
 * `connecting` flag cleared (the detector's disconnect: a connector whose
 * sentinel retries ran out keeps it set), that the application did not
 * close (`disconnect()` leaves ioredis's `manuallyClosing` set; checked again
 * when the delay is over), and whose sentinel retries and reconnects are
 * on. Not seen: `quit()` on a client that has already ended (it sets no
 * flag); close the store before its client. It is removed by the function
 * it returns.
 */

/** The ioredis client as the guard sees it (fields ioredis has; some are not in its typings). */
export interface GuardableClient {
  readonly status: string;
  readonly options?: {
    readonly sentinels?: unknown;
    readonly sentinelRetryStrategy?: unknown;
    readonly retryStrategy?: unknown;
  };
  on?(event: string, listener: () => void): unknown;
  off?(event: string, listener: () => void): unknown;
  connect?(): Promise<unknown>;
}

const STATUSES = ['connecting', 'connect', 'ready', 'close', 'reconnecting'] as const;

/** Installs the guard on `client` if it is a Sentinel client; `onRevive` is told of each reconnect. */
export function guardSentinelClient(client: GuardableClient, onRevive: () => void): () => void {
  const options = client.options;
  if (
    !Array.isArray(options?.sentinels) ||
    options.sentinels.length === 0 ||
    typeof client.on !== 'function' ||
    typeof client.off !== 'function' ||
    typeof client.connect !== 'function'
  )
    return () => {};
  const on = (event: string, listener: () => void): unknown => client.on?.(event, listener);
  const off = (event: string, listener: () => void): unknown => client.off?.(event, listener);
  let last = client.status;
  let timer: NodeJS.Timeout | undefined;
  const seen = STATUSES.map((status) => [status, () => (last = status)] as const);
  const closedByApp = (): boolean =>
    (client as { manuallyClosing?: unknown }).manuallyClosing === true;
  const onEnd = (): void => {
    const from = last;
    last = 'end';
    if (from !== 'connecting' || closedByApp()) return;
    // The race's mark: the detector's disconnect() cleared the connector's `connecting`. A
    // connector that gave up on its own (sentinel retries exhausted: the application's
    // sentinelRetryStrategy returned no number) still says `connecting`: left ended.
    if ((client as { connector?: { connecting?: unknown } }).connector?.connecting !== false)
      return;
    if (typeof options.sentinelRetryStrategy !== 'function') return;
    const delay =
      typeof options.retryStrategy === 'function'
        ? (options.retryStrategy as (attempt: number) => unknown)(1)
        : 50;
    if (typeof delay !== 'number') return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      // The application may have closed it meanwhile (disconnect() on an ended client sets the flag).
      if (client.status !== 'end' || closedByApp()) return;
      onRevive();
      client.connect?.().catch(() => undefined); // a failure ends it again: guarded again
    }, delay);
    timer.unref();
  };
  for (const [status, listener] of seen) on(status, listener);
  on('end', onEnd);
  return () => {
    clearTimeout(timer);
    for (const [status, listener] of seen) off(status, listener);
    off('end', onEnd);
  };
}
