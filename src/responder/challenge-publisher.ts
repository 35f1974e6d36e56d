/**
 * The contract for anything that makes an http-01 key authorization reachable by the CA
 * (RFC 8555 §8.3): the in-memory ChallengeStore, a webroot directory, or a user's own CDN hook.
 * This module is only the interface; it does no I/O.
 */

/** A challenge to publish: the CA will GET `http://<host>/.well-known/acme-challenge/<token>`. */
export interface PublishedChallenge {
  /** The identifier being validated (a DNS name, no port). */
  host: string;
  /** The challenge token (base64url, RFC 8555 §8.3). */
  token: string;
  /** `token || '.' || base64url(JWK thumbprint)` (RFC 8555 §8.1). */
  keyAuthorization: string;
}

/** Publishes and withdraws http-01 key authorizations (RFC 8555 §8.3). */
export interface ChallengePublisher {
  /** Makes the key authorization reachable; resolves once it is served. */
  present(c: PublishedChallenge): Promise<void>;
  /**
   * Withdraws a challenge. MUST NOT require `present` to have succeeded (it is called on
   * every exit path, including after a failed or never-run `present`).
   */
  cleanup(c: { host: string; token: string }): Promise<void>;
}
