/**
 * ACME Renewal Information (ARI, RFC 9773): the certificate identifier (certID, §4.1) that names a
 * certificate in `GET {renewalInfo}/{certID}` and in a newOrder's `replaces` (§5), and the checks on
 * the RenewalInfo object the CA answers (§4.2). Pure: the request itself is AcmeClient.getRenewalInfo.
 */
import { ErrorCode, InvalidInputError, ProtocolError } from '../errors.js';
import { certificateDer, certificateIdentityFields } from '../crypto/x509-identity-fields.js';
import { isRfc3339 } from './rfc3339.js';

/** §4.2: the CA's suggested renewal window, its optional explanation, and when to ask again. */
export interface RenewalInfo {
  suggestedWindow: { start: Date; end: Date };
  /** §4.2 `explanationURL`: a page for humans about the window (e.g. a mass revocation notice). */
  explanationUrl?: string;
  /** The response's Retry-After (RFC 9110 §10.2.3, seconds or HTTP-date), in ms from receipt (§4.3). */
  retryAfterMs: number | undefined;
}

/** §4.1: two unpadded base64url parts joined by a period. */
const CERT_ID = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** True for a string shaped like an ARI certID (§4.1); says nothing about whether the CA knows it. */
export function isCertificateIdentifier(value: unknown): value is string {
  return typeof value === 'string' && CERT_ID.test(value);
}

/**
 * RFC 9773 §4.1 certID: base64url (no padding) of the Authority Key Identifier extension's
 * keyIdentifier octets, ".", base64url (no padding) of the serialNumber's DER content octets, a
 * leading 0x00 included when present (the RFC's example serial 0x87654321 is encoded 00 87 65 43 21).
 * `cert` is a PEM certificate (or chain: its first block is used) or DER.
 *
 * @throws InvalidInputError (`ERR_INVALID_OPTION`, step `input`) when `cert` is not a certificate or
 *   has no AKI keyIdentifier (`data.reason: 'noAuthorityKeyIdentifier'`): such a certificate has no certID.
 */
export function certificateIdentifier(cert: string | Uint8Array): string {
  const { serial, authorityKeyId } = certificateIdentityFields(certificateDer(cert));
  if (authorityKeyId === undefined || authorityKeyId.length === 0) {
    throw new InvalidInputError(ErrorCode.invalidOption, 'the certificate has no Authority Key Identifier keyIdentifier, so it has no ARI certID (RFC 9773 §4.1)', {
      step: 'input',
      data: { reason: 'noAuthorityKeyIdentifier' },
    });
  }
  return `${authorityKeyId.toString('base64url')}.${serial.toString('base64url')}`;
}

/** §4.1: the renewalInfo URL for a certID: the directory's URL, "/", the certID. */
export function renewalInfoUrl(base: string, certId: string): string {
  return `${base.replace(/\/+$/, '')}/${certId}`;
}

/**
 * Checks a RenewalInfo body (§4.2): `suggestedWindow.start` and `.end` are RFC 3339 timestamps and end
 * is after start ("A RenewalInfo object in which the end timestamp equals or precedes the start
 * timestamp is invalid"); `explanationURL`, when present, is a string.
 *
 * @throws ProtocolError (`ERR_ACME_PROTOCOL`, step `renewalInfo`, `data.reason`) for anything else.
 */
export function parseRenewalInfo(body: Buffer, retryAfterMs: number | undefined, certId: string): RenewalInfo {
  const bad = (reason: string, detail: string, cause?: unknown): ProtocolError =>
    new ProtocolError(ErrorCode.protocol, `malformed renewalInfo for ${certId}: ${detail}`, { step: 'renewalInfo', cause, data: { certId, reason } });
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (cause) {
    throw bad('notJson', 'not JSON', cause);
  }
  if (typeof v !== 'object' || v === null) throw bad('notObject', 'not a JSON object');
  const { suggestedWindow: w, explanationURL } = v as { suggestedWindow?: unknown; explanationURL?: unknown };
  if (typeof w !== 'object' || w === null) throw bad('noWindow', 'no suggestedWindow object');
  const { start, end } = w as { start?: unknown; end?: unknown };
  if (!isRfc3339(start) || !isRfc3339(end)) throw bad('badTimestamp', 'suggestedWindow start and end must be RFC 3339 timestamps');
  const window = { start: new Date(start.toUpperCase()), end: new Date(end.toUpperCase()) };
  if (window.end.getTime() <= window.start.getTime()) throw bad('emptyWindow', `suggestedWindow end ${end} is not after start ${start}`);
  if (explanationURL !== undefined && typeof explanationURL !== 'string') throw bad('badExplanationUrl', 'explanationURL is not a string');
  const info: RenewalInfo = { suggestedWindow: window, retryAfterMs };
  if (explanationURL !== undefined) info.explanationUrl = explanationURL;
  return info;
}
