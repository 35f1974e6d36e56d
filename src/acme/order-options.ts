/**
 * The optional fields of a newOrder request and their checks, done before any request: the validity
 * the order asks for (`notBefore`, `notAfter`, RFC 8555 §7.4, RFC 3339 timestamps), the certificate it
 * replaces (`replaces`, an ARI certID, RFC 9773 §5) and the certificate profile
 * (`profile`, draft-aaron-acme-profiles §4: a name the directory's `meta.profiles` lists). Pure.
 */
import { ErrorCode, InvalidInputError } from '../errors.js';
import { isCertificateIdentifier } from './ari.js';
import { isRfc3339 } from './rfc3339.js';
import type { Directory } from './types.js';

/**
 * Options of AcmeClient.newOrder. Plain data (structured-clone safe), so it can cross a worker thread
 * as it is. Every field is optional; an absent field is not sent.
 */
export interface NewOrderOptions {
  /** §7.4 requested notBefore: a Date, or an RFC 3339 string sent verbatim. */
  notBefore?: string | Date | undefined;
  /** §7.4 requested notAfter: a Date, or an RFC 3339 string sent verbatim. Must be after notBefore. */
  notAfter?: string | Date | undefined;
  /** RFC 9773 §5: the ARI certID (see certificateIdentifier) of the certificate this order replaces. */
  replaces?: string | undefined;
  /** draft-aaron-acme-profiles: a profile name from the directory's `meta.profiles`. */
  profile?: string | undefined;
}

/** The JSON fields NewOrderOptions adds to the newOrder payload. */
export interface NewOrderFields {
  notBefore?: string;
  notAfter?: string;
  replaces?: string;
  profile?: string;
}

function invalid(option: keyof NewOrderOptions, message: string, data: Record<string, unknown> = {}): InvalidInputError {
  return new InvalidInputError(ErrorCode.invalidOption, message, { step: 'input', data: { option, ...data } });
}

/** A Date → RFC 3339 (UTC, `toISOString`); a string is checked and kept as given. */
function timestamp(option: 'notBefore' | 'notAfter', v: string | Date): string {
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw invalid(option, `${option} is an invalid Date`);
    return v.toISOString();
  }
  if (!isRfc3339(v)) throw invalid(option, `${option} must be an RFC 3339 timestamp such as 2030-01-01T00:00:00Z, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Checks `opts` against the directory and returns the fields to send.
 *
 * @throws InvalidInputError (`ERR_INVALID_OPTION`, step `input`, `data.option` naming the field) for a
 *   timestamp that is not RFC 3339 or an invalid Date, notBefore not before notAfter, a `replaces` that
 *   is not a certID, or a profile the directory does not list (`data.available`: the names it lists).
 */
export function newOrderFields(opts: NewOrderOptions, directory: Directory): NewOrderFields {
  const out: NewOrderFields = {};
  if (opts.notBefore !== undefined) out.notBefore = timestamp('notBefore', opts.notBefore);
  if (opts.notAfter !== undefined) out.notAfter = timestamp('notAfter', opts.notAfter);
  if (out.notBefore !== undefined && out.notAfter !== undefined && Date.parse(out.notBefore.toUpperCase()) >= Date.parse(out.notAfter.toUpperCase())) {
    throw invalid('notAfter', `notBefore ${out.notBefore} must be before notAfter ${out.notAfter}`);
  }
  if (opts.replaces !== undefined) {
    if (!isCertificateIdentifier(opts.replaces)) {
      throw invalid('replaces', 'replaces must be an ARI certID (RFC 9773 §4.1): base64url(AKI keyIdentifier) "." base64url(serial)');
    }
    out.replaces = opts.replaces;
  }
  if (opts.profile !== undefined) {
    const profiles = directory.meta?.profiles;
    const available = typeof profiles === 'object' && profiles !== null ? Object.keys(profiles) : [];
    if (typeof opts.profile !== 'string' || !available.includes(opts.profile)) {
      const offered = available.length === 0 ? 'the directory lists no profiles' : `the directory lists ${available.join(', ')}`;
      throw invalid('profile', `unknown certificate profile ${JSON.stringify(opts.profile)}: ${offered}`, { profile: String(opts.profile), available });
    }
    out.profile = opts.profile;
  }
  return out;
}
