/**
 * The certificate key types leec can generate. RSA sizes follow LEEC (4096 is its default);
 * EC curves are the ones CAs accept for leaf keys (P-256, P-384).
 */
export const KEY_TYPES = ['rsa2048', 'rsa3072', 'rsa4096', 'ec256', 'ec384'] as const;

export type KeyType = (typeof KEY_TYPES)[number];

/** LEEC generated RSA-4096 certificate keys; leec keeps that default. */
export const DEFAULT_KEY_TYPE: KeyType = 'rsa4096';

export function isKeyType(v: unknown): v is KeyType {
  return typeof v === 'string' && (KEY_TYPES as readonly string[]).includes(v);
}
