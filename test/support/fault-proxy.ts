/**
 * A scriptable TCP fault proxy for transport tests: listens on 127.0.0.1 (port 0 by default) and forwards
 * each connection to `target`. It works at the TCP level, so TLS passes through untouched (the client
 * still verifies the server's certificate end to end).
 *
 * Each accepted connection gets a mode, decided once at accept time: the next entry of the `next(k, mode)`
 * queue if any, else `choose(index)` if set and it returns a mode, else `proxy.mode`.
 *
 * - `pass`: forward both ways.
 * - `reset-mid-response`: forward the request, let the first `resetAfterBytes` bytes of the response through,
 *   then send RST to the client (`socket.resetAndDestroy()`) and drop the upstream. "The response" is the
 *   server's answer to the client's first flight (plain HTTP) or, when the connection starts with a TLS
 *   handshake record, to its second flight (the one that completes the handshake and carries the request):
 *   the TLS handshake is let through so the reset hits the HTTP exchange, not the handshake.
 * - `stall`: accept, read and discard, never connect upstream, never answer.
 * - `refuse`: not per connection: setting `mode = 'refuse'` closes the listener (connections are refused by
 *   the kernel, ECONNREFUSED) and drops the open connections; setting any other mode reopens it on the same
 *   port. Await `proxy.ready` (or use `setMode`) before relying on the listener state.
 *
 * Counters: `stats.connections` (accepted), per mode, and `stats.resets` (RSTs actually sent); `log` has
 * one record per connection. Refused connections never reach the process, so they cannot be counted here.
 *
 * A server that builds its URLs from the Host header (Pebble) can simply be addressed through the proxy.
 * One that pins its own origin (the fake CA) needs `routeHttpAgentsThrough` to reach it via the proxy.
 */
import http from 'node:http';
import net from 'node:net';

export type FaultMode = 'pass' | 'reset-mid-response' | 'stall' | 'refuse';
type ConnMode = Exclude<FaultMode, 'refuse'>;

export interface FaultProxyOptions {
  target: { host: string; port: number };
  /** Listen port; default 0 (any free port). */
  port?: number;
  mode?: FaultMode;
  /** Bytes of the response let through before the RST; default 1. */
  resetAfterBytes?: number;
}

export interface ProxyStats {
  connections: number;
  pass: number;
  'reset-mid-response': number;
  stall: number;
  /** RSTs actually sent (a reset connection whose client left first sends none). */
  resets: number;
  /** Times the listener was closed by `refuse`. */
  refusals: number;
}

export interface ConnectionRecord {
  index: number;
  mode: ConnMode;
  bytesUp: number;
  bytesDown: number;
  reset: boolean;
}

const TLS_HANDSHAKE_RECORD = 0x16;

export class FaultProxy {
  readonly host = '127.0.0.1';
  port = 0;
  resetAfterBytes: number;
  /** Per connection index (0-based, accept order): a mode, or undefined for the default. */
  choose: ((index: number) => ConnMode | undefined) | undefined;
  readonly stats: ProxyStats = { connections: 0, pass: 0, 'reset-mid-response': 0, stall: 0, resets: 0, refusals: 0 };
  readonly log: ConnectionRecord[] = [];
  /** Settles when the listener matches the current mode (closed for refuse, listening otherwise). */
  ready: Promise<void> = Promise.resolve();

  readonly #target: { host: string; port: number };
  readonly #queue: Array<{ mode: ConnMode; left: number }> = [];
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | undefined;
  #mode: FaultMode = 'pass';
  #closed = false;

  private constructor(opts: FaultProxyOptions) {
    this.#target = opts.target;
    this.resetAfterBytes = opts.resetAfterBytes ?? 1;
    this.choose = undefined;
  }

  static async start(opts: FaultProxyOptions): Promise<FaultProxy> {
    const p = new FaultProxy(opts);
    await p.#listen(opts.port ?? 0);
    if (opts.mode) await p.setMode(opts.mode);
    return p;
  }

  get mode(): FaultMode {
    return this.#mode;
  }

  set mode(m: FaultMode) {
    const was = this.#mode;
    this.#mode = m;
    if (m === 'refuse' && was !== 'refuse') {
      this.stats.refusals += 1;
      const server = this.#server;
      this.#server = undefined;
      this.dropConnections();
      this.ready = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    } else if (m !== 'refuse' && was === 'refuse') {
      const closing = this.ready;
      this.ready = closing.then(() => this.#listen(this.port));
    }
  }

  async setMode(m: FaultMode): Promise<void> {
    this.mode = m;
    await this.ready;
  }

  /** The next `k` accepted connections get `mode`, then the default applies again. */
  next(k: number, mode: ConnMode): this {
    this.#queue.push({ mode, left: k });
    return this;
  }

  /** `http://127.0.0.1:PORT` or `https://...` for a path on the proxy. */
  url(scheme: 'http' | 'https', path = ''): string {
    return `${scheme}://${this.host}:${this.port}${path}`;
  }

  /** Ends every open connection (e.g. so a client's kept-alive sockets cannot bypass a new mode). */
  dropConnections(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.dropConnections();
    await this.ready.catch(() => undefined);
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #listen(port: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const server = net.createServer({ pauseOnConnect: false }, (sock) => this.#accept(sock));
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.host, port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', () => undefined);
        this.#server = server;
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  #pick(index: number): ConnMode {
    const head = this.#queue[0];
    if (head) {
      head.left -= 1;
      if (head.left <= 0) this.#queue.shift();
      return head.mode;
    }
    const chosen = this.choose?.(index);
    if (chosen) return chosen;
    return this.#mode === 'refuse' ? 'pass' : this.#mode;
  }

  #track(s: net.Socket): void {
    this.#sockets.add(s);
    s.on('close', () => this.#sockets.delete(s));
    s.on('error', () => undefined);
  }

  #accept(client: net.Socket): void {
    const index = this.stats.connections;
    this.stats.connections += 1;
    const mode = this.#pick(index);
    this.stats[mode] += 1;
    const rec: ConnectionRecord = { index, mode, bytesUp: 0, bytesDown: 0, reset: false };
    this.log.push(rec);
    this.#track(client);

    if (mode === 'stall') {
      client.on('data', (c: Buffer) => (rec.bytesUp += c.length));
      return;
    }

    // Flights: a new client flight starts whenever the client sends after the server did.
    let flights = 0;
    let lastFromClient = false;
    let armAtFlight = 1;
    let armed = false;
    let downInFlight = 0;
    let resetting = false;

    const upstream = net.connect({ host: this.#target.host, port: this.#target.port });
    this.#track(upstream);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      // A normal close of the server side ends the client side gracefully (after what was written).
      if (!client.destroyed && !resetting) client.end();
    });
    upstream.on('error', () => {
      if (!resetting) client.destroy();
    });
    client.on('end', () => upstream.end());

    client.on('data', (chunk: Buffer) => {
      if (rec.bytesUp === 0 && chunk[0] === TLS_HANDSHAKE_RECORD) armAtFlight = 2;
      if (!lastFromClient) {
        flights += 1;
        lastFromClient = true;
        if (mode === 'reset-mid-response' && flights === armAtFlight) armed = true;
      }
      rec.bytesUp += chunk.length;
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });

    upstream.on('data', (chunk: Buffer) => {
      lastFromClient = false;
      if (resetting) return;
      let out = chunk;
      if (armed) {
        const room = this.resetAfterBytes - downInFlight;
        if (chunk.length >= room) {
          out = chunk.subarray(0, Math.max(0, room));
          resetting = true;
        }
        downInFlight += out.length;
      }
      rec.bytesDown += out.length;
      const reset = (): void => {
        upstream.destroy();
        if (client.destroyed) return;
        rec.reset = true;
        this.stats.resets += 1;
        // Let the partial response reach the client before the RST discards the send buffer.
        setTimeout(() => client.resetAndDestroy(), 20);
      };
      if (resetting) {
        upstream.pause();
        if (out.length > 0) client.write(out, reset);
        else reset();
        return;
      }
      if (!client.write(out)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
  }
}

type CreateConnection = (this: http.Agent, opts: net.NetConnectOpts & { port?: number | string }, cb?: (err: Error | null, s: net.Socket) => void) => net.Socket;

/**
 * For a server that pins its own URL (the fake CA checks each JWS `url` against its own origin and
 * builds every Location from it): plain-HTTP connections that any `http.Agent` of this process opens to
 * 127.0.0.1:`fromPort` go to 127.0.0.1:`toPort` (the proxy) instead, while URLs, Host headers and JWS
 * stay as they were. Uses the documented `agent.createConnection` hook. Returns the undo.
 */
export function routeHttpAgentsThrough(fromPort: number, toPort: number): () => void {
  const proto = http.Agent.prototype as unknown as { createConnection: CreateConnection };
  const original = proto.createConnection;
  proto.createConnection = function (opts, cb) {
    const to = Number(opts.port) === fromPort ? { ...opts, port: toPort } : opts;
    return original.call(this, to, cb);
  };
  return () => {
    proto.createConnection = original;
  };
}
