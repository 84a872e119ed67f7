/**
 * A fault-injecting TCP proxy for one client link, test-only, on 127.0.0.1.
 * Per direction it can delay (FIFO preserved), stall (bytes stay queued),
 * and on heal either deliver what was queued late or reset both legs. It can
 * swallow replies and then reset (a request applied but never acknowledged),
 * refuse new connections, and retarget new connections to another server.
 * It never discards bytes of a live stream: RESP has no request ids, so a
 * client would pair replies with the wrong commands.
 */
import { createServer, type Server, type Socket, connect } from 'node:net';

type Direction = 'c2s' | 's2c';

interface Pipe {
  readonly from: Socket;
  readonly to: Socket;
  readonly dir: Direction;
  queue: { chunk: Buffer; at: number }[];
  timer: NodeJS.Timeout | undefined;
  lastAt: number;
}

export class FaultProxy {
  readonly #server: Server;
  #target: { host: string; port: number };
  readonly #pipes = new Set<Pipe>();
  readonly #sockets = new Set<Socket>();
  #delay: Record<Direction, number> = { c2s: 0, s2c: 0 };
  #stalled = false;
  #swallowReplies = false;
  #trigger: { marker: string; resetAfterMs: number } | undefined;
  #delayTrigger: { marker: string; ms: number } | undefined;
  #refusing = false;
  port = 0;

  private constructor(target: { host: string; port: number }) {
    this.#target = target;
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
    const proxy = new FaultProxy({ host: targetHost, port: targetPort });
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    const address = proxy.#server.address();
    proxy.port = typeof address === 'object' && address ? address.port : 0;
    return proxy;
  }

  /** Client connections open through the proxy now. */
  get connections(): number {
    return this.#sockets.size / 2;
  }

  /** Delays each chunk by `ms` in one direction (FIFO kept). */
  delay(dir: Direction, ms: number): void {
    this.#delay[dir] = ms;
  }

  /** Stops forwarding both ways; bytes queue up. */
  stall(): void {
    this.#stalled = true;
  }

  /** Ends a stall: `deliver` forwards what was queued (late), `reset` kills the connections. */
  heal(mode: 'deliver' | 'reset'): void {
    this.#stalled = false;
    this.#swallowReplies = false;
    if (mode === 'reset') this.reset();
    else for (const p of this.#pipes) this.#pump(p);
  }

  /** RST on both legs of every live connection; new connections are accepted. */
  reset(): void {
    for (const socket of this.#sockets) socket.resetAndDestroy();
    this.#sockets.clear();
    this.#pipes.clear();
  }

  /** Forward requests but swallow replies, then reset after `ms`: applied but unacknowledged. */
  dropRepliesThenReset(ms: number): Promise<void> {
    this.#swallowReplies = true;
    return new Promise((resolve) =>
      setTimeout(() => {
        this.reset();
        this.#swallowReplies = false;
        resolve();
      }, ms),
    );
  }

  /**
   * Like `dropRepliesThenReset`, but armed: it starts with the first request
   * that contains `marker` (e.g. `evalsha`), so the connection handshake
   * still completes and exactly that request is applied but unacknowledged.
   */
  dropRepliesFrom(marker: string, resetAfterMs: number): void {
    this.#trigger = { marker: marker.toLowerCase(), resetAfterMs };
  }

  /** From the first request that contains `marker` (case-insensitive) on, delays replies by `ms`. */
  delayRepliesFrom(marker: string, ms: number): void {
    this.#delayTrigger = { marker: marker.toLowerCase(), ms };
  }

  /** Refuse (close) new connections while on. */
  refuse(on: boolean): void {
    this.#refusing = on;
  }

  /** New connections go to another server (a virtual-IP failover). */
  retarget(port: number, host = '127.0.0.1'): void {
    this.#target = { host, port };
  }

  async close(): Promise<void> {
    this.reset();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #accept(client: Socket): void {
    if (this.#refusing) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(this.#target.port, this.#target.host);
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.setNoDelay(true);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.#sockets.delete(s);
        (s === client ? upstream : client).destroy();
      });
    }
    this.#pipe(client, upstream, 'c2s');
    this.#pipe(upstream, client, 's2c');
  }

  #pipe(from: Socket, to: Socket, dir: Direction): void {
    const pipe: Pipe = { from, to, dir, queue: [], timer: undefined, lastAt: 0 };
    this.#pipes.add(pipe);
    from.on('data', (chunk: Buffer) => {
      const trigger = this.#trigger;
      if (
        dir === 'c2s' &&
        trigger &&
        chunk.toString('latin1').toLowerCase().includes(trigger.marker)
      ) {
        this.#trigger = undefined;
        void this.dropRepliesThenReset(trigger.resetAfterMs);
      }
      const delayTrigger = this.#delayTrigger;
      if (
        dir === 'c2s' &&
        delayTrigger &&
        chunk.toString('latin1').toLowerCase().includes(delayTrigger.marker)
      ) {
        this.#delayTrigger = undefined;
        this.#delay.s2c = delayTrigger.ms;
      }
      if (dir === 's2c' && this.#swallowReplies) return; // the connection is reset right after
      // Release times never go backwards, so a shorter delay cannot reorder bytes.
      pipe.lastAt = Math.max(pipe.lastAt, Date.now() + this.#delay[dir]);
      pipe.queue.push({ chunk, at: pipe.lastAt });
      this.#pump(pipe);
    });
    from.on('close', () => {
      if (pipe.timer) clearTimeout(pipe.timer);
      this.#pipes.delete(pipe);
    });
  }

  #pump(pipe: Pipe): void {
    if (pipe.timer) return;
    while (!this.#stalled && pipe.queue.length > 0) {
      const head = pipe.queue[0] as { chunk: Buffer; at: number };
      const wait = head.at - Date.now();
      if (wait > 0) {
        pipe.timer = setTimeout(() => {
          pipe.timer = undefined;
          this.#pump(pipe);
        }, wait);
        return;
      }
      pipe.queue.shift();
      if (!pipe.to.destroyed) pipe.to.write(head.chunk);
    }
  }
}
