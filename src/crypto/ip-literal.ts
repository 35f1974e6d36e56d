/**
 * IP literals among certificate names: an RFC 8738 `ip` identifier, an RFC 5280 iPAddress SAN. One test
 * for the CSR and the order, so both classify a name alike.
 */
import { isIP } from 'node:net';

/** Only these can be IP literals; host names skip isIP, whose regexps cost each new thread ~4 ms to compile. */
const MAYBE_IP = /^[0-9.]+$|:/;

/** 4 or 6 for an IPv4 or IPv6 literal, 0 for anything else (a host name). */
export function ipLiteralFamily(name: string): 0 | 4 | 6 {
  return MAYBE_IP.test(name) ? (isIP(name) as 0 | 4 | 6) : 0;
}
