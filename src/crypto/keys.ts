/**
 * Key pairs for leec: generation (native async `crypto.generateKeyPair`, off the event loop), loading
 * from PEM, and mapping a key back to its `KeyType` and JWS algorithm. It does not sign JWS or build
 * CSRs (see `csr.ts`), and it never logs or serialises key material beyond the PKCS#8 PEM it returns.
 */
import { createPrivateKey, generateKeyPair as generateKeyPairCb, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

import { ErrorCode, InvalidInputError } from '../errors.js';
import { type KeyType, isKeyType } from './key-type.js';

const generateKeyPairAsync = promisify(generateKeyPairCb);

/** A freshly generated key pair; `privateKeyPem` is PKCS#8 ("BEGIN PRIVATE KEY"). */
export interface GeneratedKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  privateKeyPem: string;
}

/** The JWS algorithms leec signs with (RFC 7518 §3.1; RFC 8555 §6.2 requires RS256 and ES256 support). */
export type JwsAlgorithm = 'RS256' | 'ES256' | 'ES384';

function invalidKeyType(message: string, data: Record<string, unknown> = {}, cause?: unknown): InvalidInputError {
  return new InvalidInputError(ErrorCode.invalidKeyType, message, {
    step: 'keygen',
    data,
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Generates a key pair of the given type with node's native async key generation (libuv thread pool).
 * RSA keys use public exponent 65537; `ec256` is P-256 (prime256v1), `ec384` is P-384 (secp384r1).
 *
 * @throws InvalidInputError with `ErrorCode.invalidKeyType` when `type` is not a `KeyType`.
 */
export async function generateKeyPair(type: KeyType): Promise<GeneratedKeyPair> {
  if (!isKeyType(type)) throw invalidKeyType(`unsupported key type: ${String(type)}`, { keyType: String(type) });
  let pair: { privateKey: KeyObject; publicKey: KeyObject };
  switch (type) {
    case 'rsa2048':
    case 'rsa3072':
    case 'rsa4096':
      pair = await generateKeyPairAsync('rsa', { modulusLength: Number(type.slice(3)), publicExponent: 0x10001 });
      break;
    case 'ec256':
      pair = await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' });
      break;
    case 'ec384':
      pair = await generateKeyPairAsync('ec', { namedCurve: 'secp384r1' });
      break;
  }
  const privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, privateKeyPem };
}

/**
 * The `KeyType` of a private or public key: RSA by modulus length (2048/3072/4096), EC by curve
 * (P-256 → `ec256`, P-384 → `ec384`).
 *
 * @throws InvalidInputError with `ErrorCode.invalidKeyType` for any other algorithm, size or curve.
 */
export function keyTypeOf(key: KeyObject): KeyType {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const candidate = `rsa${details.modulusLength ?? 0}`;
    if (isKeyType(candidate)) return candidate;
  } else if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1') return 'ec256';
    if (details.namedCurve === 'secp384r1') return 'ec384';
  }
  throw invalidKeyType(`unsupported key: ${describeKey(key)}`, { key: describeKey(key) });
}

/**
 * The JWS `alg` for a key (RFC 7518 §3.1): any RSA key → RS256, P-256 → ES256, P-384 → ES384.
 *
 * @throws InvalidInputError with `ErrorCode.invalidKeyType` for any other key.
 */
export function jwsAlgorithmFor(key: KeyObject): JwsAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ES256';
    if (curve === 'secp384r1') return 'ES384';
  }
  throw invalidKeyType(`no JWS algorithm for key: ${describeKey(key)}`, { key: describeKey(key) });
}

/**
 * Parses a PEM private key (PKCS#8, or the legacy PKCS#1 / SEC1 forms node accepts).
 *
 * @throws InvalidInputError with `ErrorCode.invalidKeyType` when the PEM cannot be parsed; the
 * message never contains the PEM.
 */
export function loadPrivateKey(pem: string): KeyObject {
  if (typeof pem !== 'string') throw invalidKeyType('private key PEM must be a string');
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw invalidKeyType(`cannot parse private key PEM: ${reason}`, {}, err);
  }
}

function describeKey(key: KeyObject): string {
  const d = key.asymmetricKeyDetails ?? {};
  const extra = d.modulusLength !== undefined ? ` ${d.modulusLength} bits` : d.namedCurve !== undefined ? ` ${d.namedCurve}` : '';
  return `${key.asymmetricKeyType ?? key.type}${extra}`;
}
