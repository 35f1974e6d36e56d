/**
 * The three challenge types leec answers, and what must be published for each before the challenge is
 * answered: http-01 (RFC 8555 §8.3) serves the key authorization at a URL, dns-01 (§8.4) puts its SHA-256
 * digest in a TXT record, tls-alpn-01 (RFC 8737 §3) presents a certificate carrying that digest.
 */
import { createHash } from 'node:crypto';
import { keyAuthorizationFor } from './jws.js';

/** The challenge types leec can answer (RFC 8555 §8.3, §8.4; RFC 8737). */
export type ChallengeType = 'http-01' | 'dns-01' | 'tls-alpn-01';

export const CHALLENGE_TYPES: readonly ChallengeType[] = ['http-01', 'dns-01', 'tls-alpn-01'];

/** What an agent asks the main thread to publish for one authorization. Plain data: it crosses threads. */
export type PresentedChallenge =
  | {
      type: 'http-01';
      /** The identifier's value (a host name or an IP). */
      host: string;
      token: string;
      keyAuthorization: string;
    }
  | {
      type: 'dns-01';
      /** The identifier's value, without `*.` (§7.1.3): a wildcard and its apex share one record name. */
      host: string;
      token: string;
      /** `_acme-challenge.<host>.` (§8.4). */
      fqdn: string;
      /** base64url(SHA-256(key authorization)) (§8.4). */
      value: string;
    }
  | {
      type: 'tls-alpn-01';
      host: string;
      token: string;
      /** The self-signed certificate with the critical acmeIdentifier extension, and its key (RFC 8737 §3). */
      certPem: string;
      keyPem: string;
    };

/** What the main thread needs to withdraw a published response (no certificate, no key authorization). */
export interface WithdrawnChallenge {
  type: ChallengeType;
  host: string;
  token: string;
  /** dns-01: the record name and the one value to remove. */
  fqdn?: string | undefined;
  value?: string | undefined;
  /** tls-alpn-01: the certificate to withdraw (a newer one for the same host stays). */
  certPem?: string | undefined;
}

/** The key authorization's digest as dns-01 and tls-alpn-01 use it: SHA-256, for dns-01 base64url (§8.4). */
export function dns01TxtValue(keyAuth: string): string {
  return createHash('sha256').update(keyAuth).digest('base64url');
}

/**
 * What to publish for one challenge, except tls-alpn-01's certificate, which the caller makes (it is a
 * key pair, generated where the caller wants the CPU spent): for that type `keyAuthorization` is returned.
 */
export function challengeResponse(
  type: ChallengeType,
  host: string,
  token: string,
  thumbprint: string,
): { keyAuthorization: string; dns01?: { fqdn: string; value: string } } {
  const keyAuth = keyAuthorizationFor(token, thumbprint);
  if (type !== 'dns-01') return { keyAuthorization: keyAuth };
  return { keyAuthorization: keyAuth, dns01: { fqdn: `_acme-challenge.${host}.`, value: dns01TxtValue(keyAuth) } };
}
