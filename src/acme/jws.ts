/**
 * JSON Web Signatures for ACME requests (RFC 8555 §6.2) and http-01 key authorizations (§8.1), with jose.
 * Signs and computes thumbprints; it does not send anything.
 */
import type { KeyObject } from 'node:crypto';
// jose's subpath entries: the whole package costs every agent thread ~40 ms more CPU to load.
import { FlattenedSign } from 'jose/jws/flattened/sign';
import { calculateJwkThumbprint } from 'jose/jwk/thumbprint';
import { exportJWK } from 'jose/key/export';
import type { FlattenedJWS, JWK } from 'jose';

export type JwsAlgorithm = 'RS256' | 'ES256' | 'ES384';

/** An account key as the protocol layer needs it: the private key, its public JWK and its algorithm. */
export interface AccountKey {
  privateKey: KeyObject;
  jwk: JWK;
  alg: JwsAlgorithm;
}

export async function toAccountKey(privateKey: KeyObject, publicKey: KeyObject, alg: JwsAlgorithm): Promise<AccountKey> {
  const full = await exportJWK(publicKey);
  // RFC 7638 §3.2: only the required members take part; keep the JWK to exactly those.
  const jwk: JWK = full.kty === 'RSA' ? { e: full.e!, kty: 'RSA', n: full.n! } : { crv: full.crv!, kty: 'EC', x: full.x!, y: full.y! };
  return { privateKey, jwk, alg };
}

/**
 * §6.2: the protected header carries `alg`, `nonce`, `url` and exactly one of `jwk` (newAccount,
 * revocation by certificate key) or `kid` (the account URL, every other request).
 * `payload === ''` is a POST-as-GET (§6.3).
 */
export async function signJws(opts: {
  key: AccountKey;
  url: string;
  nonce: string;
  kid?: string | undefined;
  payload: unknown | '';
}): Promise<FlattenedJWS> {
  const bytes = opts.payload === '' ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(opts.payload));
  const header = opts.kid
    ? { alg: opts.key.alg, kid: opts.kid, nonce: opts.nonce, url: opts.url }
    : { alg: opts.key.alg, jwk: opts.key.jwk, nonce: opts.nonce, url: opts.url };
  return new FlattenedSign(bytes).setProtectedHeader(header).sign(opts.key.privateKey);
}

/** RFC 7638 SHA-256 thumbprint of the account JWK, base64url. */
export function jwkThumbprint(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint(jwk, 'sha256');
}

/** §8.1: keyAuthorization = token || '.' || base64url(Thumbprint(accountKey)). */
export async function keyAuthorization(token: string, jwk: JWK): Promise<string> {
  return `${token}.${await jwkThumbprint(jwk)}`;
}
