/**
 * JSON Web Signatures for ACME requests (RFC 8555 §6.2) and http-01 key authorizations (§8.1). Signs and
 * computes thumbprints; it does not send anything.
 *
 * Signatures are made with node:crypto's synchronous `sign` on the agent's own thread (tens of
 * microseconds for ES256). jose signs through WebCrypto, whose every signature is a job on libuv's thread
 * pool: measured, those jobs queued behind the RSA certificate keys being generated there, so an agent
 * whose key was ready still waited for every other agent's key before it could sign its finalize (50 x
 * rsa2048: every certificate arrived in the last 50 ms of the run). jose keeps what it does well here:
 * the public JWK and the RFC 7638 thumbprint (account-key.ts), and EAB's HS256 (eab.ts); the tests
 * verify these signatures with jose's flattenedVerify. This module loads no jose code, so an agent
 * thread given its account's JWK and thumbprint never loads jose (~20 ms of CPU per thread).
 */
import { sign, type KeyObject } from 'node:crypto';
import type { FlattenedJWS, JWK } from 'jose';

export type JwsAlgorithm = 'RS256' | 'ES256' | 'ES384';

/**
 * An account key as the protocol layer needs it: the private key, its public JWK, its algorithm, and the
 * JWK's RFC 7638 thumbprint (computed once: every key authorization, §8.1, uses it).
 */
export interface AccountKey {
  privateKey: KeyObject;
  jwk: JWK;
  alg: JwsAlgorithm;
  thumbprint: string;
}

/** RFC 7518 §3.1: the digest of each algorithm; ECDSA signatures are R || S, not DER (§3.4). */
const SIGNING: Record<JwsAlgorithm, { digest: string; dsaEncoding?: 'ieee-p1363' }> = {
  RS256: { digest: 'sha256' },
  ES256: { digest: 'sha256', dsaEncoding: 'ieee-p1363' },
  ES384: { digest: 'sha384', dsaEncoding: 'ieee-p1363' },
};

/**
 * RFC 7515 §7.2.2 flattened JWS JSON serialization: base64url of the protected header and of the payload,
 * signed over `protected || '.' || payload` (§5.1).
 */
export function signFlattened(header: { alg: JwsAlgorithm } & Record<string, unknown>, payload: Uint8Array, privateKey: KeyObject): FlattenedJWS {
  const protectedB64 = Buffer.from(JSON.stringify(header)).toString('base64url');
  const payloadB64 = Buffer.from(payload).toString('base64url');
  const { digest, dsaEncoding } = SIGNING[header.alg];
  const signature = sign(digest, Buffer.from(`${protectedB64}.${payloadB64}`), dsaEncoding ? { key: privateKey, dsaEncoding } : privateKey);
  return { protected: protectedB64, payload: payloadB64, signature: signature.toString('base64url') };
}

/**
 * §6.2: the protected header carries `alg`, `nonce`, `url` and exactly one of `jwk` (newAccount,
 * revocation by certificate key) or `kid` (the account URL, every other request).
 * `payload === ''` is a POST-as-GET (§6.3).
 */
export function signJws(opts: {
  key: AccountKey;
  url: string;
  nonce: string;
  kid?: string | undefined;
  payload: unknown | '';
}): FlattenedJWS {
  const bytes = opts.payload === '' ? new Uint8Array(0) : Buffer.from(JSON.stringify(opts.payload));
  const header = opts.kid
    ? { alg: opts.key.alg, kid: opts.kid, nonce: opts.nonce, url: opts.url }
    : { alg: opts.key.alg, jwk: opts.key.jwk, nonce: opts.nonce, url: opts.url };
  return signFlattened(header, bytes, opts.key.privateKey);
}

/** §8.1, with the account key's thumbprint already at hand (AccountKey.thumbprint). */
export function keyAuthorizationFor(token: string, thumbprint: string): string {
  return `${token}.${thumbprint}`;
}
