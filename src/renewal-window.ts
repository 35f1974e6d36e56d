/**
 * When a stored certificate is still fresh: more than a third of its lifetime left (certbot's and
 * certmagic's rule). Pure functions plus one store read; no network, so a CLI can decide before it
 * starts anything.
 */
import { X509Certificate } from 'node:crypto';
import type { CertStore } from './store/cert-store.js';
import type { CertificateResult } from './certificate-result.js';
import { checkKeyType } from './options.js';
import type { KeyType } from './crypto/key-type.js';

/** True once a third (or less) of the validity period is left. */
export function isDueForRenewal(notBefore: string, notAfter: string, now: number = Date.now()): boolean {
  const from = Date.parse(notBefore);
  const to = Date.parse(notAfter);
  if (Number.isNaN(from) || Number.isNaN(to) || to <= from) return true;
  return now >= to - (to - from) / 3;
}

/**
 * The stored certificate of `domain` if it covers exactly `names`, has `keyType`, is not due and was
 * not revoked (`leec revoke` records it); else undefined.
 */
export async function loadFreshCertificate(store: CertStore, domain: string, names: string[], keyType: KeyType, now: number = Date.now()) {
  const stored = await store.loadCertificate(domain);
  if (!stored) return undefined;
  const sameNames = stored.names.length === names.length && stored.names.every((n) => names.includes(n));
  if (!sameNames || stored.keyType !== keyType || isDueForRenewal(stored.notBefore, stored.notAfter, now)) return undefined;
  if (await store.isRevoked(domain, new X509Certificate(stored.certPem).serialNumber)) return undefined;
  return stored;
}

/** A fresh stored certificate (from `loadFreshCertificate`) as a `reused` CertificateResult. */
export function reusedResult(
  store: CertStore,
  domain: string,
  stored: NonNullable<Awaited<ReturnType<typeof loadFreshCertificate>>>,
  started: number = Date.now(),
): CertificateResult {
  return {
    domain,
    names: stored.names,
    keyType: checkKeyType(stored.keyType),
    notBefore: stored.notBefore,
    notAfter: stored.notAfter,
    paths: store.paths(domain),
    fullchainPem: stored.fullchainPem,
    reused: true,
    challengesAnswered: 0,
    requests: 0,
    elapsedMs: Date.now() - started,
  };
}

/**
 * The stored certificate of `domain` as a `reused` CertificateResult when it is still fresh for exactly
 * `names`; undefined when a new order is needed. Reads the store only.
 */
export async function reuseFreshCertificate(
  store: CertStore,
  domain: string,
  names: string[],
  keyType: KeyType,
  started: number = Date.now(),
): Promise<CertificateResult | undefined> {
  const stored = await loadFreshCertificate(store, domain, names, keyType);
  return stored ? reusedResult(store, domain, stored, started) : undefined;
}
