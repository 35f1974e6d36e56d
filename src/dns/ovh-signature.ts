/**
 * OVH API v1 request signing, as OVH's official clients do it (python-ovh `Client.call`, node ovh):
 *
 *     X-Ovh-Signature = "$1$" + hex(SHA-1(AS + "+" + CK + "+" + METHOD + "+" + URL + "+" + BODY + "+" + TIMESTAMP))
 *
 * AS is the application secret, CK the consumer key, METHOD the upper-case HTTP method, URL the full
 * request URL with its query string exactly as sent (`https://eu.api.ovh.com/1.0/domain/zone/x/record?...`),
 * BODY the exact request body (`""` when there is none) and TIMESTAMP the server's Unix time in seconds
 * (local time plus the delta read once from `GET /auth/time`). The request also carries
 * `X-Ovh-Application` (AK), `X-Ovh-Consumer` (CK) and `X-Ovh-Timestamp`.
 *
 * Checked against python-ovh's test vectors (test_call_signature): AS `fake application secret`,
 * CK `fake consumer key`, method `MeThOd`, URL `https://eu.api.ovh.com/1.0/unit/test`, empty body,
 * timestamp 1404395931 → `$1$16ae5ba8c63841b1951575be905867991d5f49dc`.
 *
 * (LEEC's manual builds the header as `"\$1\$\$\$${SHA}"` in a shell, which yields `$1$$$…`: OVH's
 * clients and this module use `$1$` followed directly by the digest.)
 */
import { createHash } from 'node:crypto';

/** What one signature covers. */
export interface OvhSignatureInput {
  applicationSecret: string;
  consumerKey: string;
  /** HTTP method; upper-cased before signing. */
  method: string;
  /** The full URL, with query string, byte for byte as requested. */
  url: string;
  /** The request body as sent, `''` for none. */
  body: string;
  /** Unix time in seconds, on the server's clock. */
  timestamp: number;
}

/** The `X-Ovh-Signature` header value. */
export function ovhSignature(input: OvhSignatureInput): string {
  const payload = [input.applicationSecret, input.consumerKey, input.method.toUpperCase(), input.url, input.body, String(input.timestamp)].join('+');
  return `$1$${createHash('sha1').update(payload, 'utf8').digest('hex')}`;
}

/** The headers that authenticate one OVH API request. */
export function ovhAuthHeaders(input: OvhSignatureInput & { applicationKey: string }): Record<string, string> {
  return {
    'X-Ovh-Application': input.applicationKey,
    'X-Ovh-Consumer': input.consumerKey,
    'X-Ovh-Timestamp': String(input.timestamp),
    'X-Ovh-Signature': ovhSignature(input),
  };
}
