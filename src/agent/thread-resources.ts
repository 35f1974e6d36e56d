/**
 * What the agents of one worker thread share, across jobs and between agents that run at once on it
 * (`agentsPerThread`): the keep-alive HTTPS connections to the CA (one trust store, one TLS session
 * cache), the nonces harvested from every response (RFC 8555 §7.2: a nonce is the server's, not an
 * account's, so any agent may use one another's response brought), and the imported account key (PEM
 * parsing done once, not per agent).
 *
 * An instance lives as long as its thread (see workers/agent.ts); it is never shared between threads.
 * It is bounded: a supervisor gives all its agents one CA, one trust bundle and one account, and has a
 * pool of threads of its own, so each map holds one entry in practice (account keys are capped, for
 * rollovers).
 */
import { createPublicKey } from 'node:crypto';
import type { JWK } from 'jose';
import type { AccountKey } from '../acme/jws.js';
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
  readonly #accountKeys = new Map<string, AccountKey>();

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

  /**
   * The account key of this PKCS#8 PEM, parsed once per thread, with the public JWK and thumbprint the
   * supervisor computed (so the thread needs no jose). A PEM that fails to parse throws and is not kept.
   */
  accountKey(account: SharedAccountKey): AccountKey {
    const kept = this.#accountKeys.get(account.keyPem);
    if (kept !== undefined) {
      // Most recently used last, so the oldest is the one dropped.
      this.#accountKeys.delete(account.keyPem);
      this.#accountKeys.set(account.keyPem, kept);
      return kept;
    }
    const privateKey = loadPrivateKey(account.keyPem);
    const key: AccountKey = { privateKey, jwk: account.jwk, alg: jwsAlgorithmFor(privateKey), thumbprint: account.thumbprint };
    this.#accountKeys.set(account.keyPem, key);
    while (this.#accountKeys.size > MAX_ACCOUNT_KEYS) this.#accountKeys.delete(this.#accountKeys.keys().next().value!);
    return key;
  }

  /** Closes the kept-alive connections (the thread is about to end; tests). */
  close(): void {
    for (const t of this.#transports.values()) t.close();
    this.#transports.clear();
    this.#nonces.clear();
    this.#accountKeys.clear();
  }
}

/** A shared account's key as a task carries it: the PEM, and its public JWK and RFC 7638 thumbprint. */
export interface SharedAccountKey {
  keyPem: string;
  jwk: JWK;
  thumbprint: string;
}

/** PEM → the protocol layer's AccountKey, with jose (loaded on first use: throwaway accounts only). */
export async function importAccountKey(pem: string): Promise<AccountKey> {
  const { toAccountKey } = await import('../acme/account-key.js');
  const privateKey = loadPrivateKey(pem);
  return toAccountKey(privateKey, createPublicKey(privateKey), jwsAlgorithmFor(privateKey));
}
