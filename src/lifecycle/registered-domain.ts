/**
 * The registered domain of a certificate name, the key of the CA's "certificates per registered domain"
 * limit. Let's Encrypt computes it with the Public Suffix List, private section included (Boulder's
 * `publicsuffix.Domain`): `www.example.co.uk` → `example.co.uk`, `blog.user.github.io` → `user.github.io`.
 * A name that is itself a public suffix (or a single label) is its own key, as in Boulder.
 *
 * IP identifiers (RFC 8738): Let's Encrypt counts each IPv4 address as its own registered domain and each
 * IPv6 /64 as one (https://letsencrypt.org/docs/rate-limits/, "New Certificates per Registered Domain"),
 * so `2001:db8:1:2::5` → `2001:db8:1:2::/64`. A wildcard's `*.` is stripped (RFC 8555 §7.1.3).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { parse } from 'tldts';
import { ErrorCode, InvalidInputError } from '../errors.js';

export function registeredDomain(name: string): string {
  const host = hostOf(name);
  if (isIPv4(host)) return host;
  if (isIPv6(host)) return ipv6Slash64(host);
  const parsed = parse(host, { allowPrivateDomains: true });
  if (parsed.hostname !== host || host.startsWith('.')) {
    throw new InvalidInputError(ErrorCode.invalidDomain, `not a valid domain name: ${JSON.stringify(name)}`, { step: 'input', data: { name } });
  }
  return parsed.domain ?? host;
}

/**
 * The host name a certificate name is validated for: lower-cased, without a trailing dot, without `[]`
 * around an IPv6 literal and without a wildcard's `*.` (the authorization's identifier, RFC 8555 §7.1.3).
 */
export function hostOf(name: string): string {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new InvalidInputError(ErrorCode.invalidDomain, 'a certificate name must be a non-empty string', { step: 'input', data: { name: String(name) } });
  }
  let host = name.trim().toLowerCase();
  if (host.endsWith('.') && host.length > 1) host = host.slice(0, -1);
  if (host.startsWith('*.')) host = host.slice(2);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') {
    throw new InvalidInputError(ErrorCode.invalidDomain, `not a valid domain name: ${JSON.stringify(name)}`, { step: 'input', data: { name } });
  }
  return host;
}

/** The /64 an IPv6 address belongs to, written with its first four groups in lower-case hex. */
function ipv6Slash64(address: string): string {
  const groups = expandIpv6(address);
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

function expandIpv6(address: string): number[] {
  let text = address.split('%')[0]!; // a zone index says nothing about the prefix
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    tail.push((a << 8) | b, (c << 8) | d);
    text = text.slice(0, -v4[1]!.length);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const [left, right] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const parseGroups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const head = parseGroups(left);
  const rest = right === undefined ? [] : parseGroups(right);
  const zeros = 8 - head.length - rest.length - tail.length;
  return [...head, ...new Array<number>(Math.max(0, zeros)).fill(0), ...rest, ...tail];
}
