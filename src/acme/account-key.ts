/**
 * Account keys (RFC 8555 §6.2, §8.1) with jose: a private key's public JWK, reduced to the members RFC 7638
 * hashes, and its SHA-256 thumbprint. Separate from jws.ts so that what signs requests loads no jose.
 */
import type { KeyObject } from 'node:crypto';
// jose's subpath entries: the whole package costs every thread that loads it ~40 ms more CPU.
import { calculateJwkThumbprint } from 'jose/jwk/thumbprint';
import { exportJWK } from 'jose/key/export';
import type { JWK } from 'jose';
import { keyAuthorizationFor, type AccountKey, type JwsAlgorithm } from './jws.js';

/** The AccountKey of a key pair: its public JWK (RFC 7638 members only) and that JWK's thumbprint. */
export async function toAccountKey(privateKey: KeyObject, publicKey: KeyObject, alg: JwsAlgorithm): Promise<AccountKey> {
  const full = await exportJWK(publicKey);
  // RFC 7638 §3.2: only the required members take part; keep the JWK to exactly those.
  const jwk: JWK = full.kty === 'RSA' ? { e: full.e!, kty: 'RSA', n: full.n! } : { crv: full.crv!, kty: 'EC', x: full.x!, y: full.y! };
  return { privateKey, jwk, alg, thumbprint: await jwkThumbprint(jwk) };
}

/** RFC 7638 SHA-256 thumbprint of the account JWK, base64url. */
export function jwkThumbprint(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint(jwk, 'sha256');
}

/** §8.1: keyAuthorization = token || '.' || base64url(Thumbprint(accountKey)). */
export async function keyAuthorization(token: string, jwk: JWK): Promise<string> {
  return keyAuthorizationFor(token, await jwkThumbprint(jwk));
}
