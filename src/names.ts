/**
 * Identifier normalisation and validation, run on the caller's names before any network request.
 * It checks syntax only (RFC 1035 / RFC 5890 LDH host names, RFC 8738 IP literals, wildcard rules);
 * it does not resolve names, check CAA or apply a CA's policy beyond the wildcard/challenge rule.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';

import { ErrorCode, InvalidInputError } from './errors.js';

import { CHALLENGE_TYPES, type ChallengeType } from './acme/challenges.js';

export type { ChallengeType };

/** Options of `validateName` and `normalizeNames`. */
export interface NameOptions {
  challenge: ChallengeType;
}

/** Most names leec puts in one order (the common CA limit, e.g. Let's Encrypt's 100 SANs). */
export const MAX_NAMES = 100;

const MAX_NAME_LENGTH = 253; // RFC 1035 §2.3.4 (255 octets on the wire, 253 characters in text)
const MAX_LABEL_LENGTH = 63; // RFC 1035 §2.3.4
const LDH = /^[a-z0-9-]+$/i; // RFC 1035 §2.3.1, RFC 5890 §2.3.1

function invalid(name: string, reason: string, code: string = ErrorCode.invalidDomain): InvalidInputError {
  return new InvalidInputError(code, `invalid name "${name}": ${reason}`, { step: 'input', data: { name, reason } });
}

function show(v: unknown): string {
  try {
    return String(v);
  } catch {
    return typeof v;
  }
}

/**
 * Normalises one identifier: trims, lower-cases, drops ONE trailing dot, converts Unicode labels to
 * punycode A-labels (RFC 5891 §4, via `url.domainToASCII`) and keeps a leading `*.`. IP literals are
 * kept as IPs (IPv6 in RFC 5952 form, brackets removed). It does not validate: see `validateName`.
 *
 * @example normalizeName('Bücher.Example.TEST.') // 'xn--bcher-kva.example.test'
 * @throws InvalidInputError (`ErrorCode.invalidDomain`) when `raw` is not a string.
 */
export function normalizeName(raw: string): string {
  if (typeof raw !== 'string') throw invalid(show(raw), `not a string (got ${typeof raw})`);
  let name = raw.trim().toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  // One trailing dot is the root; a second one is an empty label.
  if (name.endsWith('.')) throw invalid(name, 'empty label (more than one trailing dot)');

  const unbracketed = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  if (isIP(unbracketed) !== 0) return canonicalIp(unbracketed);

  const wildcard = name.startsWith('*.');
  const rest = wildcard ? name.slice(2) : name;
  // Only non-ASCII input goes through domainToASCII: on ASCII it would rewrite IPv4-like forms
  // ("1.2.3" → "1.2.0.3") and hide the reason a name is invalid.
  if (/[^\x00-\x7f]/.test(rest)) {
    const ascii = domainToASCII(rest);
    if (ascii !== '') return (wildcard ? '*.' : '') + ascii;
  }
  return name;
}

/**
 * Validates one normalised identifier, throwing `InvalidInputError` with `data: { name, reason }`:
 *
 * - non-empty, at most 253 characters without the trailing dot, at least two labels (RFC 1035 §2.3.4);
 * - labels of 1..63 letters, digits or hyphens, not starting or ending with a hyphen
 *   (RFC 1035 §2.3.1, RFC 5890 §2.3.1); `xn--` labels must be valid punycode (RFC 5891 §5.4);
 * - the last label is not all-numeric (RFC 3696 §2), unless the whole name is an IP literal;
 * - a wildcard is only the whole leftmost label `*.` followed by at least two labels (RFC 8555 §7.1.3),
 *   and needs dns-01 (CA/B Forum Baseline Requirements §3.2.2.4.19, §3.2.2.4.20) →
 *   `ErrorCode.wildcardNeedsDns01`;
 * - IPv4/IPv6 literals are accepted for http-01 and tls-alpn-01 and refused for dns-01 (RFC 8738 §7).
 *
 * Other failures use `ErrorCode.invalidDomain`.
 */
export function validateName(name: string, opts: NameOptions): void {
  if (typeof name !== 'string') throw invalid(show(name), `not a string (got ${typeof name})`);
  const challenge = opts?.challenge;
  if (!(CHALLENGE_TYPES as readonly string[]).includes(challenge)) {
    throw new InvalidInputError(ErrorCode.invalidOption, `unknown challenge type "${show(challenge)}"`, {
      step: 'input',
      data: { name, option: 'challenge', value: show(challenge) },
    });
  }
  if (name === '') throw invalid(name, 'empty name');

  if (isIP(name) !== 0) {
    if (name.includes('%')) throw invalid(name, 'an IP literal cannot carry a zone identifier');
    if (challenge === 'dns-01') throw invalid(name, 'IP identifiers cannot be validated with dns-01 (RFC 8738 §7)');
    return;
  }

  const host = name.endsWith('.') ? name.slice(0, -1) : name;
  if (host === '') throw invalid(name, 'empty name');
  if (host.length > MAX_NAME_LENGTH) throw invalid(name, `longer than ${MAX_NAME_LENGTH} characters`);

  const wildcard = host.startsWith('*.');
  const rest = wildcard ? host.slice(2) : host;
  if (rest.includes('*')) throw invalid(name, 'a wildcard "*" is only allowed as the whole leftmost label');

  const labels = rest.split('.');
  for (const label of labels) {
    if (label === '') throw invalid(name, 'empty label');
    if (label.length > MAX_LABEL_LENGTH) throw invalid(name, `label "${label}" is longer than ${MAX_LABEL_LENGTH} characters`);
    if (!LDH.test(label)) {
      const bad = [...label].find((c) => !/[a-z0-9-]/i.test(c)) ?? '?';
      const what = bad === ' ' ? 'a space' : bad === '_' ? 'an underscore' : `the character ${JSON.stringify(bad)}`;
      throw invalid(name, `label "${label}" contains ${what} (only letters, digits and hyphens are allowed)`);
    }
    if (label.startsWith('-') || label.endsWith('-')) throw invalid(name, `label "${label}" starts or ends with a hyphen`);
    if (/^xn--/i.test(label) && domainToASCII(label) === '') throw invalid(name, `label "${label}" is not valid punycode`);
  }
  if (labels.length < 2) {
    throw invalid(name, wildcard ? 'a wildcard needs at least two labels after "*."' : 'a name needs at least two labels');
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) throw invalid(name, 'the last label is all-numeric and the name is not an IP address');

  if (wildcard && challenge !== 'dns-01') {
    throw invalid(name, `a wildcard name needs the dns-01 challenge, not ${challenge}`, ErrorCode.wildcardNeedsDns01);
  }
}

/**
 * Normalises and validates the primary name and the extra SANs, then removes duplicates keeping the
 * first occurrence (so the primary stays first). Returns the names to order (RFC 8555 §7.4 identifiers).
 *
 * @throws InvalidInputError (`ErrorCode.invalidDomain`) for a non-string, empty or invalid name, when
 * `sans` is neither an array nor undefined, or for more than `MAX_NAMES` distinct names (reason
 * `too many names`); `ErrorCode.wildcardNeedsDns01` for a wildcard without dns-01.
 */
export function normalizeNames(primary: string, sans: readonly string[] | undefined, opts: NameOptions): string[] {
  if (sans !== undefined && !Array.isArray(sans)) throw invalid(show(sans), 'the extra names must be an array of strings');
  const out: string[] = [];
  const seen = new Set<string>();
  for (const raw of [primary, ...(sans ?? [])]) {
    const name = normalizeName(raw);
    validateName(name, opts);
    if (!seen.has(name)) {
      seen.add(name);
      out.push(name);
    }
  }
  if (out.length > MAX_NAMES) {
    const first = out[0] ?? '';
    throw new InvalidInputError(ErrorCode.invalidDomain, `invalid name "${first}": too many names (${out.length}, at most ${MAX_NAMES})`, {
      step: 'input',
      data: { name: first, reason: 'too many names', count: out.length },
    });
  }
  return out;
}

/** IPv6 in RFC 5952 form (lower case, longest zero run compressed); IPv4 unchanged. */
function canonicalIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
}
