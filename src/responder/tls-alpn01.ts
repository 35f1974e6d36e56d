/**
 * The tls-alpn-01 responder (RFC 8737 §3), on the main thread: it answers TLS connections whose
 * ClientHello offers the ALPN protocol `acme-tls/1` with the challenge certificate the TlsAlpn01Store
 * holds for the SNI name, negotiates `acme-tls/1`, and closes the connection once the handshake is done
 * (RFC 8737 §3: no application data follows). Every other connection goes on to normal TLS.
 *
 * Node's SNICallback does not see the client's ALPN list, so the decision is made before any TLS: the
 * raw socket's first bytes are read until the whole ClientHello is in (client-hello.ts; at most
 * MAX_CLIENT_HELLO_BYTES, within `helloTimeoutMs`), then pushed back with `socket.unshift()` so whoever
 * runs TLS on the socket reads them again. Plain HTTP or garbage is recognised from its first byte.
 *
 * - `acme-tls/1` offered, SNI with a live challenge: the challenge certificate, ALPN `acme-tls/1`.
 * - `acme-tls/1` offered, no SNI or no live challenge for it: the handshake fails (a TLS alert, no
 *   certificate); another host's certificate is never sent, nor the challenge certificate without `acme-tls/1`.
 * - anything else goes to the fallback (standalone) or to the server's own handling (embedded).
 *
 * Two ways to run it:
 *
 * 1. Standalone, `listenTlsAlpn01(store, { port, host, fallback })`: leec's own TCP listener. `fallback`
 *    gets every connection whose well-formed ClientHello does not offer `acme-tls/1`: a `tls.Server` or
 *    `https.Server` (it need not listen; the raw socket is given to it as its `'connection'` event, so
 *    its certificates, SNICallback and request handler apply), or a function receiving the raw socket.
 *    Without a fallback they are closed. Non-TLS bytes and slow clients are closed in any case.
 *
 * 2. Embedded, on your own `tls.Server` / `https.Server` (you keep port 443 and your certificates):
 *
 *    ```ts
 *    import https from 'node:https';
 *    import { TlsAlpn01Store, createTlsAlpn01Hook } from 'leec';
 *
 *    const store = new TlsAlpn01Store();               // filled by the agents: store.present({ host, certPem, keyPem })
 *    const server = https.createServer({ SNICallback: mySniCallback }, (req, res) => res.end('hello\n'));
 *    const detach = createTlsAlpn01Hook(store).attach(server);   // before or after listen()
 *    server.listen(443);
 *    // ...later, to stop answering challenges on this server:
 *    detach();
 *    ```
 *
 *    `attach` takes over the server's `'connection'` listeners present at that moment (Node's TLS
 *    handshake starter among them) and calls them, in order, with each socket that is not a challenge,
 *    its peeked bytes unshifted: your HTTPS keeps working on the same port. A client that sends nothing
 *    or a partial ClientHello is handed over after `helloTimeoutMs` (the server's own
 *    `handshakeTimeout` then applies); bytes that are not a ClientHello are handed over at once, and
 *    the server rejects them as it would without the hook.
 */
import net from 'node:net';
import tls from 'node:tls';
import { ErrorCode, InvalidInputError, LeecError } from '../errors.js';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello } from './client-hello.js';
import type { TlsAlpn01Entry, TlsAlpn01Store } from './tls-alpn01-store.js';

/** The ALPN protocol of the validation handshake (RFC 8737 §4, §6.2). */
export const ACME_TLS_ALPN_PROTOCOL = 'acme-tls/1';

/** Default bound for a client to send its whole ClientHello. */
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
/** Default bound for an `acme-tls/1` handshake, from the ClientHello to the close. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** After the challenge handshake, how long the peer has to close before the socket is destroyed. */
const CLOSE_GRACE_MS = 2_000;

/** Options shared by the standalone listener and the embedded hook. */
export interface TlsAlpn01Options {
  /** How long a client may take to send its whole ClientHello (default 10 s). */
  helloTimeoutMs?: number;
  /** How long an `acme-tls/1` handshake may take once its ClientHello is in (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Called after a challenge certificate was served (handshake completed). Exceptions it throws are ignored. */
  onServed?: (e: { serverName: string; host: string }) => void;
}

/**
 * Where the standalone listener sends every connection that is not an `acme-tls/1` challenge: a TLS or
 * HTTPS server (need not listen) that gets the socket as its `'connection'` event, or a function that
 * takes the raw socket (its first bytes unshifted, the stream paused).
 */
export type TlsAlpn01Fallback = tls.Server | ((socket: net.Socket) => void);

/** A running standalone responder. */
export interface TlsAlpn01Listener {
  /** The bound port (the chosen one when `port: 0` was asked). */
  port: number;
  /** The bound address. */
  host: string;
  /** Stops listening and closes every connection, those handed to the fallback included. */
  close(): Promise<void>;
  /** Settles when the server has stopped listening, for whatever reason (`error` when it failed). */
  closed: Promise<{ error?: Error }>;
}

/** Answers `acme-tls/1` on a server of yours; see the module comment for usage. */
export interface TlsAlpn01Hook {
  /**
   * Starts answering challenges on `server`. Returns `detach`, which gives the server back its own
   * `'connection'` listeners (idempotent). Throws InvalidInputError when `server` is not a `tls.Server`
   * (an `https.Server` is one) or already has a tls-alpn-01 hook.
   */
  attach(server: tls.Server): () => void;
}

/** Marks the connection listener a hook installs, to refuse a second hook on the same server. */
const HOOK_LISTENER = Symbol('leec.tlsAlpn01Hook');

interface Settings {
  helloTimeoutMs: number;
  handshakeTimeoutMs: number;
  onServed: TlsAlpn01Options['onServed'];
}

function invalidOption(message: string, data: Record<string, unknown> = {}): InvalidInputError {
  return new InvalidInputError(ErrorCode.invalidOption, message, { step: 'input', data });
}

function settingsOf(opts: TlsAlpn01Options): Settings {
  const ms = (name: 'helloTimeoutMs' | 'handshakeTimeoutMs', fallback: number): number => {
    const v = opts[name] ?? fallback;
    if (!Number.isInteger(v) || v <= 0 || v > 600_000) throw invalidOption(`${name} must be a whole number of milliseconds in (0, 600000]`, { [name]: v });
    return v;
  };
  if (opts.onServed !== undefined && typeof opts.onServed !== 'function') throw invalidOption('onServed must be a function');
  return {
    helloTimeoutMs: ms('helloTimeoutMs', DEFAULT_HELLO_TIMEOUT_MS),
    handshakeTimeoutMs: ms('handshakeTimeoutMs', DEFAULT_HANDSHAKE_TIMEOUT_MS),
    onServed: opts.onServed,
  };
}

/** What the first bytes of a connection turned out to be. */
type Peeked =
  /** A ClientHello offering acme-tls/1: answer it here. */
  | { kind: 'challenge'; serverName: string | undefined }
  /** A well-formed ClientHello without acme-tls/1: normal TLS handling. */
  | { kind: 'hello' }
  /** Bytes that are not a TLS ClientHello (plain HTTP, garbage, malformed or oversized). */
  | { kind: 'invalid' }
  /** The client did not complete a ClientHello in time (bytes so far unshifted). */
  | { kind: 'timeout' }
  /** The socket ended, failed or closed first: nothing to hand on. */
  | { kind: 'gone' };

/**
 * Reads the socket until its ClientHello is whole (or is ruled out), then unshifts every byte read, so
 * the socket is as it was, paused. Bounded by `helloTimeoutMs` and MAX_CLIENT_HELLO_BYTES.
 */
function peekClientHello(socket: net.Socket, helloTimeoutMs: number): Promise<Peeked> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let total = 0;
    /** No whole ClientHello can be in before this many bytes: a byte-by-byte sender costs no re-parse per byte. */
    let needed = 1;
    let settled = false;
    const finish = (result: Peeked): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onGone);
      socket.off('close', onGone);
      socket.off('error', onGone);
      if (result.kind !== 'gone' && chunks.length > 0 && !socket.destroyed) socket.unshift(Buffer.concat(chunks));
      resolve(result);
    };
    const onGone = (): void => finish({ kind: 'gone' });
    const onReadable = (): void => {
      for (let chunk: Buffer | null = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
        chunks.push(chunk);
        total += chunk.length;
      }
      if (total < needed) return;
      const hello = parseClientHello(Buffer.concat(chunks), MAX_CLIENT_HELLO_BYTES);
      if (hello.kind === 'incomplete') {
        needed = hello.needed;
        return;
      }
      if (hello.kind === 'invalid') finish({ kind: 'invalid' });
      else if (hello.alpnProtocols.includes(ACME_TLS_ALPN_PROTOCOL)) finish({ kind: 'challenge', serverName: hello.serverName });
      else finish({ kind: 'hello' });
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), helloTimeoutMs);
    socket.on('readable', onReadable);
    socket.once('end', onGone);
    socket.once('close', onGone);
    socket.once('error', onGone);
  });
}

/**
 * The acme-tls/1 handshake on `socket` (its ClientHello unshifted): the entry's certificate, or for an
 * unknown name a context without any certificate, so the handshake fails with a TLS alert.
 */
function answerChallenge(socket: net.Socket, entry: TlsAlpn01Entry | undefined, noCertificate: tls.SecureContext, s: Settings): void {
  const tlsSocket = new tls.TLSSocket(socket, {
    isServer: true,
    secureContext: entry?.secureContext ?? noCertificate,
    ALPNProtocols: [ACME_TLS_ALPN_PROTOCOL],
  });
  let closeTimer: NodeJS.Timeout | undefined;
  const handshakeTimer = setTimeout(() => tlsSocket.destroy(), s.handshakeTimeoutMs);
  tlsSocket.on('error', () => tlsSocket.destroy());
  tlsSocket.once('close', () => {
    clearTimeout(handshakeTimer);
    clearTimeout(closeTimer);
    socket.destroy();
  });
  tlsSocket.once('secure', () => {
    clearTimeout(handshakeTimer);
    // RFC 8737 §3: once the handshake completes, no data is exchanged; the validator closes.
    tlsSocket.end();
    closeTimer = setTimeout(() => tlsSocket.destroy(), CLOSE_GRACE_MS);
    if (entry !== undefined && tlsSocket.alpnProtocol === ACME_TLS_ALPN_PROTOCOL) {
      try {
        s.onServed?.({ serverName: entry.serverName, host: entry.host });
      } catch {
        // a throwing observer must not break the responder
      }
    }
  });
  // Flowing, so the validator's close_notify and FIN are read and the socket ends.
  tlsSocket.resume();
}

function ignore(): void {}

/** Why a connection is not answered here. */
type HandOverReason = 'hello' | 'invalid' | 'timeout';

/**
 * The per-connection decision, shared by both modes: peek, then answer the challenge here or call
 * `handOver(socket, why)`. A socket that goes away while peeking is destroyed.
 */
function dispatcher(
  store: TlsAlpn01Store,
  s: Settings,
  handOver: (socket: net.Socket, why: HandOverReason) => void,
): (socket: net.Socket) => void {
  const noCertificate = tls.createSecureContext({});
  return (socket) => {
    // Stays for the socket's life: a reset while nobody else listens must not crash the process.
    socket.on('error', ignore);
    void peekClientHello(socket, s.helloTimeoutMs).then((peeked) => {
      if (peeked.kind === 'gone') {
        socket.destroy();
      } else if (peeked.kind === 'challenge') {
        const entry = peeked.serverName === undefined ? undefined : store.get(peeked.serverName);
        answerChallenge(socket, entry, noCertificate, s);
      } else {
        handOver(socket, peeked.kind);
      }
    });
  };
}

function checkStore(store: TlsAlpn01Store): void {
  if (typeof store !== 'object' || store === null || typeof (store as { get?: unknown }).get !== 'function') {
    throw invalidOption('a tls-alpn-01 responder needs a TlsAlpn01Store');
  }
}

/**
 * Listens on `opts.host` (default 127.0.0.1) : `opts.port` (0 picks a free port) and answers
 * `acme-tls/1` challenges from `store`; other ClientHellos go to `opts.fallback`, or are closed without
 * one. Bytes that are not a ClientHello, and a client that sends no complete ClientHello within
 * `helloTimeoutMs`, are always closed.
 *
 * @throws InvalidInputError (`ErrorCode.invalidOption`) for bad options, before listening;
 * LeecError (`ErrorCode.listen`) when the address cannot be bound.
 */
export async function listenTlsAlpn01(
  store: TlsAlpn01Store,
  opts: { port: number; host?: string; fallback?: TlsAlpn01Fallback } & TlsAlpn01Options,
): Promise<TlsAlpn01Listener> {
  checkStore(store);
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65_535) throw invalidOption('port must be a whole number in [0, 65535]', { port: opts.port });
  const bindHost = opts.host ?? '127.0.0.1';
  if (typeof bindHost !== 'string' || net.isIP(bindHost) === 0) throw invalidOption('host must be an IP address to bind', { host: bindHost });
  const fallback = opts.fallback;
  if (fallback !== undefined && typeof fallback !== 'function' && !(fallback instanceof tls.Server)) {
    throw invalidOption('fallback must be a tls.Server / https.Server or a function taking the socket');
  }
  const s = settingsOf(opts);

  const sockets = new Set<net.Socket>();
  // Only a well-formed ClientHello reaches the fallback: what is not one could hold its TLS server open.
  const handOver = (socket: net.Socket, why: HandOverReason): void => {
    if (fallback === undefined || why !== 'hello') socket.destroy();
    else if (typeof fallback === 'function') fallback(socket);
    else fallback.emit('connection', socket);
  };
  const onConnection = dispatcher(store, s, handOver);
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    onConnection(socket);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(opts.port, bindHost, () => {
      server.off('error', onError);
      resolve();
    });
  }).catch((cause: unknown) => {
    throw new LeecError(ErrorCode.listen, `the tls-alpn-01 responder cannot listen on ${bindHost}:${opts.port}: ${(cause as Error).message}`, {
      step: 'challenge',
      cause,
      data: { host: bindHost, port: opts.port, cause: (cause as NodeJS.ErrnoException).code },
    });
  });

  const addr = server.address() as net.AddressInfo;
  let failure: Error | undefined;
  server.on('error', (err) => {
    failure = err;
    server.close();
  });
  const closed = new Promise<{ error?: Error }>((resolve) => server.once('close', () => resolve(failure ? { error: failure } : {})));
  let closing: Promise<void> | undefined;
  return {
    port: addr.port,
    host: addr.address,
    closed,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err === undefined ? resolve() : reject(err)));
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/**
 * A hook that answers `acme-tls/1` challenges from `store` on servers of yours; see the module comment.
 * @throws InvalidInputError (`ErrorCode.invalidOption`) for bad options.
 */
export function createTlsAlpn01Hook(store: TlsAlpn01Store, opts: TlsAlpn01Options = {}): TlsAlpn01Hook {
  checkStore(store);
  const s = settingsOf(opts);
  return {
    attach(server: tls.Server): () => void {
      if (!(server instanceof tls.Server)) throw invalidOption('attach needs a tls.Server or https.Server');
      const original = server.listeners('connection') as Array<(socket: net.Socket) => void>;
      if (original.some((l) => HOOK_LISTENER in l)) throw invalidOption('this server already has a tls-alpn-01 hook');
      const onConnection = dispatcher(store, s, (socket) => {
        socket.off('error', ignore);
        for (const l of original) l.call(server, socket);
      });
      const listener = Object.assign((socket: net.Socket) => onConnection(socket), { [HOOK_LISTENER]: true });
      server.removeAllListeners('connection');
      server.on('connection', listener);
      let attached = true;
      return () => {
        if (!attached) return;
        attached = false;
        server.off('connection', listener);
        const now = server.listeners('connection');
        for (const l of original) if (!now.includes(l)) server.on('connection', l);
      };
    },
  };
}
