/**
 * The ACME account key the store keeps per directory URL (RFC 8555 §7.3), as the account and revoke
 * commands use it: loaded and parsed into a signing key, or generated (EC P-256, as the supervisor's
 * shared account). Reading the store sends nothing; a missing key is reported before any request.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { type AccountKey } from '../acme/jws.js';
import { jwkThumbprint, toAccountKey } from '../acme/account-key.js';
import { generateKeyPair, jwsAlgorithmFor, loadPrivateKey } from '../crypto/keys.js';
import { ErrorCode, InvalidInputError, StoreError } from '../errors.js';
import { CertStore } from '../store/cert-store.js';
import type { ConnectionOptions } from './connection-options.js';

/** The key type of new account keys: EC P-256 (ES256), as the supervisor's shared account. */
export const ACCOUNT_KEY_TYPE = 'ec256';

/** An account key from the store, ready to sign. */
export interface StoredAccount {
  /** The key as stored (PKCS#8 PEM). Secret: never printed. */
  keyPem: string;
  key: AccountKey;
  /** The account URL the store last saw, if any. */
  url: string | undefined;
  /** Where the key file is. */
  keyFile: string;
}

/** The signing form of a private key: its public JWK and JWS algorithm (§6.2). */
export async function signingKey(privateKey: KeyObject): Promise<AccountKey> {
  return toAccountKey(privateKey, createPublicKey(privateKey), jwsAlgorithmFor(privateKey));
}

/** RFC 7638 SHA-256 thumbprint of the key's public JWK, base64url (what §8.1 key authorizations use). */
export function thumbprintOf(key: AccountKey): Promise<string> {
  return jwkThumbprint(key.jwk);
}

/** The path of the account key file for `conn` (whether or not it exists). */
export function accountKeyFile(conn: ConnectionOptions): string {
  return path.join(new CertStore(conn.storeDir).accountDir(conn.directoryUrl), 'account.key');
}

/** The stored account for `conn`'s directory, or undefined when no key is stored. */
export async function readStoredAccount(conn: ConnectionOptions): Promise<StoredAccount | undefined> {
  const stored = await new CertStore(conn.storeDir).loadAccount(conn.directoryUrl);
  if (stored === undefined) return undefined;
  const keyFile = accountKeyFile(conn);
  let privateKey: KeyObject;
  try {
    privateKey = loadPrivateKey(stored.keyPem);
  } catch (cause) {
    throw new StoreError(ErrorCode.store, `the stored account key ${keyFile} cannot be parsed`, { step: 'store', cause, data: { path: keyFile } });
  }
  return { keyPem: stored.keyPem, key: await signingKey(privateKey), url: stored.url, keyFile };
}

/**
 * The stored account for `conn`'s directory. No key stored: InvalidInputError (ERR_INVALID_OPTION, exit 2)
 * naming the store and directory, before anything is sent.
 */
export async function requireStoredAccount(conn: ConnectionOptions): Promise<StoredAccount> {
  const stored = await readStoredAccount(conn);
  if (stored === undefined) {
    throw new InvalidInputError(
      ErrorCode.invalidOption,
      `no account key for ${conn.directoryUrl} in the store ${conn.storeDir}: run \`leec account register\` first (or pass the --out of the store that has it)`,
      { step: 'input', data: { directoryUrl: conn.directoryUrl, storeDir: conn.storeDir } },
    );
  }
  return stored;
}

/** A new account key (EC P-256): the PEM to store and its signing form. */
export async function newAccountKey(): Promise<{ keyPem: string; key: AccountKey }> {
  const pair = await generateKeyPair(ACCOUNT_KEY_TYPE);
  return { keyPem: pair.privateKeyPem, key: await toAccountKey(pair.privateKey, pair.publicKey, 'ES256') };
}
