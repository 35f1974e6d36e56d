/**
 * Anti-replay nonces (RFC 8555 §7.2): harvested from the `Replay-Nonce` header of every response, and
 * fetched from newNonce only when none is at hand.
 *
 * The fetch is a GET (204), which §7.2 requires a server to answer as it answers HEAD (200). Measured
 * against Pebble: Node's HTTP client closes a keep-alive connection after a HEAD response that has no
 * Content-Length (it decides keep-alive before it knows a HEAD answer has no body), so every HEAD
 * newNonce cost the next request a new TCP connection and TLS handshake; a GET keeps the connection.
 *
 * One pool per client, or one shared by the clients of a thread (nonces belong to the server, not to an
 * account); no module state.
 */
import { ErrorCode, ProtocolError } from '../errors.js';
import type { HttpResponse, HttpTransport, RequestCounter } from './transport.js';

/** §6.5.1: the nonce is base64url. */
const NONCE_SYNTAX = /^[A-Za-z0-9_-]+$/;
/** Nonces expire at the CA; a few kept are plenty for one agent. */
const MAX_KEPT = 8;

export class NoncePool {
  readonly #nonces: string[] = [];
  readonly #transport: HttpTransport;
  readonly #newNonceUrl: string;
  readonly #maxKept: number;

  /**
   * `maxKept`: the most nonces kept (the oldest are dropped beyond it; default 8). A pool shared by many
   * clients needs room for what all their responses bring at once: each request takes one nonce and its
   * answer brings one back, so a pool too small for the answers in flight drops nonces that the next
   * requests then fetch again from newNonce.
   */
  constructor(transport: HttpTransport, newNonceUrl: string, maxKept = MAX_KEPT) {
    this.#transport = transport;
    this.#newNonceUrl = newNonceUrl;
    this.#maxKept = maxKept;
  }

  /** Keeps the response's Replay-Nonce, if it is well-formed. */
  harvest(res: HttpResponse): void {
    const n = res.headers['replay-nonce'];
    if (typeof n === 'string' && NONCE_SYNTAX.test(n)) {
      this.#nonces.push(n);
      if (this.#nonces.length > this.#maxKept) this.#nonces.shift();
    }
  }

  get size(): number {
    return this.#nonces.length;
  }

  /**
   * The freshest kept nonce, or a fresh one from GET newNonce (§7.2). A nonce leaves the pool when taken,
   * so it is never handed out twice (§6.5: the server rejects a replayed nonce).
   *
   * The GET is retried on connection-level failures (`retry`, default true); AcmeClient.post passes
   * `retry: false` because its own retry loop already bounds the attempts of the whole signed request.
   */
  async take(opts: { retry?: boolean; signal?: AbortSignal | undefined; count?: RequestCounter | undefined } = {}): Promise<string> {
    const kept = this.#nonces.pop();
    if (kept !== undefined) return kept;
    const req = { method: 'GET', url: this.#newNonceUrl, step: 'newNonce', signal: opts.signal, count: opts.count } as const;
    const res = opts.retry === false ? await this.#transport.request(req) : await this.#transport.requestIdempotent(req);
    const n = res.headers['replay-nonce'];
    if (typeof n !== 'string' || !NONCE_SYNTAX.test(n)) {
      throw new ProtocolError(ErrorCode.protocol, `newNonce answered ${res.status} without a valid Replay-Nonce`, {
        step: 'newNonce',
        data: { status: res.status },
      });
    }
    return n;
  }
}
