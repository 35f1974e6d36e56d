/**
 * What the agents of one worker thread share, across jobs and between agents that run at once on it
 * (`agentsPerThread`): the keep-alive HTTPS connections to the CA (one trust store, one TLS session
 * cache), the nonces harvested from every response (RFC 8555 §7.2: a nonce is the server's, not an
 * account's, so any agent may use one another's response brought), and the imported account key (PEM
 * parsing, JWK export and jose's CryptoKey conversion done once, not per agent).
 *
 * An instance lives as long as its thread (see workers/agent.ts); it is never shared between threads.
 * It is bounded: a supervisor gives all its agents one CA, one trust bundle and one account, and has a
 * pool of threads of its own, so each map holds one entry in practice (account keys are capped, for
 * rollovers).
 */
import { createPublicKey } from 'node:crypto';
import { toAccountKey, type AccountKey } from '../acme/jws.js';
import { NoncePool } from '../acme/nonce-pool.js';
import { HttpTransport } from '../acme/transport.js';
import { jwsAlgorithmFor, loadPrivateKey } from '../crypto/keys.js';

/** Account keys kept per thread: the current one, and a few older ones after key rollovers. */
const MAX_ACCOUNT_KEYS = 4;
/**
 * Connections per thread to the CA. Each ACME request is short (the CA answers at once, even while it
 * validates), so a few connections serve many agents, and each connection saved is a TLS handshake saved.
 */
export const SHARED_MAX_SOCKETS = 8;
/**
 * Nonces kept per thread: room for the answers of every request its agents have in flight at once (a
 * stale one costs one badNonce retry, as a fetch from newNonce would).
 */
const SHARED_MAX_NONCES = 128;

export class AgentThreadResources {
  readonly #transports = new Map<string, HttpTransport>();
  readonly #nonces = new Map<string, NoncePool>();
  readonly #accountKeys = new Map<string, Promise<AccountKey>>();

  /** The thread's transport for this trust bundle and timeout. Shared: callers never close it. */
  transport(opts: { caPem?: string | undefined; timeoutMs: number }): HttpTransport {
    const key = `${opts.timeoutMs}\n${opts.caPem ?? ''}`;
    let t = this.#transports.get(key);
    if (t === undefined) {
      t = new HttpTransport({ caPem: opts.caPem, timeoutMs: opts.timeoutMs, maxSockets: SHARED_MAX_SOCKETS });
      this.#transports.set(key, t);
    }
    return t;
  }

  /** The thread's nonce pool for this CA (its newNonce URL), fetching over `transport` when empty. */
  nonces(newNonceUrl: string, transport: HttpTransport): NoncePool {
    let pool = this.#nonces.get(newNonceUrl);
    if (pool === undefined) {
      pool = new NoncePool(transport, newNonceUrl, SHARED_MAX_NONCES);
      this.#nonces.set(newNonceUrl, pool);
    }
    return pool;
  }

  /** The account key of this PKCS#8 PEM, imported once per thread. A PEM that fails to import is not kept. */
  accountKey(pem: string): Promise<AccountKey> {
    const kept = this.#accountKeys.get(pem);
    if (kept !== undefined) {
      // Most recently used last, so the oldest is the one dropped.
      this.#accountKeys.delete(pem);
      this.#accountKeys.set(pem, kept);
      return kept;
    }
    const imported = importAccountKey(pem);
    this.#accountKeys.set(pem, imported);
    imported.catch(() => this.#accountKeys.delete(pem));
    while (this.#accountKeys.size > MAX_ACCOUNT_KEYS) this.#accountKeys.delete(this.#accountKeys.keys().next().value!);
    return imported;
  }

  /** Closes the kept-alive connections (the thread is about to end; tests). */
  close(): void {
    for (const t of this.#transports.values()) t.close();
    this.#transports.clear();
    this.#nonces.clear();
    this.#accountKeys.clear();
  }
}

/** PEM → the protocol layer's AccountKey (private key, public JWK, JWS algorithm). */
export async function importAccountKey(pem: string): Promise<AccountKey> {
  const privateKey = loadPrivateKey(pem);
  return toAccountKey(privateKey, createPublicKey(privateKey), jwsAlgorithmFor(privateKey));
}
