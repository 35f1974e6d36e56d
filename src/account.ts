/**
 * The supervisor's ACME account (RFC 8555 §7.3): loaded from the store, or made once (EC P-256 key,
 * stored 0600) and registered, in the main thread, before any agent starts, so N agents never race to
 * create N accounts. newAccount on a known key answers 200 with the same account (§7.3.1).
 */
import type { JWK } from 'jose';
import { createPublicKey } from 'node:crypto';
import { AcmeClient } from './acme/client.js';
import { toAccountKey } from './acme/account-key.js';
import type { HttpTransport } from './acme/transport.js';
import type { Directory } from './acme/types.js';
import { generateKeyPair, jwsAlgorithmFor, loadPrivateKey } from './crypto/keys.js';
import type { CertStore } from './store/cert-store.js';
import { settleInterruptedRollover } from './account-rollover-recovery.js';

export interface ResolvedAccount {
  keyPem: string;
  url: string;
  /** The key's public JWK and its RFC 7638 thumbprint, computed once here and handed to every agent. */
  jwk: JWK;
  thumbprint: string;
  /** True when the key was made in this call. */
  created: boolean;
}

export async function resolveAccount(opts: {
  store: CertStore;
  directoryUrl: string;
  directory: Directory;
  transport: HttpTransport;
  contact: string[];
  /** §7.3.4, for CAs that require an external account. */
  externalAccountBinding?: { kid: string; macKey: string } | undefined;
}): Promise<ResolvedAccount> {
  await settleInterruptedRollover(opts); // a rollover a crash interrupted: adopt its key if the CA took it
  const stored = await opts.store.loadAccount(opts.directoryUrl);
  const keyPem = stored?.keyPem ?? (await generateKeyPair('ec256')).privateKeyPem;
  if (!stored) await opts.store.saveAccount(opts.directoryUrl, { keyPem });
  const privateKey = loadPrivateKey(keyPem);
  const accountKey = await toAccountKey(privateKey, createPublicKey(privateKey), jwsAlgorithmFor(privateKey));
  const client = new AcmeClient({ directory: opts.directory, transport: opts.transport, accountKey });
  // Also for a stored key: confirms the account still exists and refreshes its URL (200 on a known key).
  const eab = opts.externalAccountBinding;
  const account = await client.newAccount({
    termsOfServiceAgreed: true,
    contact: opts.contact,
    ...(eab ? { externalAccountBinding: await client.externalAccountBinding(eab.kid, eab.macKey) } : {}),
  });
  if (stored?.url !== account.url) await opts.store.saveAccount(opts.directoryUrl, { keyPem, url: account.url });
  return { keyPem, url: account.url, jwk: accountKey.jwk, thumbprint: accountKey.thumbprint, created: !stored };
}
