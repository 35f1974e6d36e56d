/**
 * External Account Binding (RFC 8555 §7.3.4): the `externalAccountBinding` member of a newAccount
 * request, a flattened JWS MACed with the CA-issued key over the account's public JWK. Signs only.
 */
import { FlattenedSign } from 'jose/jws/flattened/sign';
import type { FlattenedJWS, JWK } from 'jose';
import { ErrorCode, InvalidInputError } from '../errors.js';

/** A CA-issued MAC key given as base64url, with or without `=` padding, into its bytes. */
export function decodeMacKey(macKeyB64url: string): Uint8Array {
  const s = typeof macKeyB64url === 'string' ? macKeyB64url.trim().replace(/=+$/, '') : '';
  if (s === '' || !/^[A-Za-z0-9_-]+$/.test(s) || s.length % 4 === 1) {
    throw new InvalidInputError(ErrorCode.invalidOption, 'EAB MAC key must be non-empty base64url (RFC 8555 §7.3.4)', { step: 'newAccount' });
  }
  return new Uint8Array(Buffer.from(s, 'base64url'));
}

/**
 * §7.3.4: protected header `{alg: "HS256", kid: <EAB key id>, url: <newAccount URL>}` (no nonce), payload
 * the account's public JWK, MACed with the decoded key.
 */
export async function externalAccountBinding(kid: string, macKeyB64url: string, accountJwk: JWK, newAccountUrl: string): Promise<FlattenedJWS> {
  if (typeof kid !== 'string' || kid === '') {
    throw new InvalidInputError(ErrorCode.invalidOption, 'EAB key identifier must be a non-empty string (RFC 8555 §7.3.4)', { step: 'newAccount' });
  }
  const key = decodeMacKey(macKeyB64url);
  return new FlattenedSign(new TextEncoder().encode(JSON.stringify(accountJwk)))
    .setProtectedHeader({ alg: 'HS256', kid, url: newAccountUrl })
    .sign(key);
}
