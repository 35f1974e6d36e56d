/**
 * The in-memory tls-alpn-01 challenge store (RFC 8737 §3): the TLS server name a validator sends in
 * SNI → the challenge certificate and key to answer with, read by the main-thread responder
 * (tls-alpn01.ts). Agents build the certificate (src/crypto/tls-alpn-certificate.ts, in their worker)
 * and hand `{ host, certPem, keyPem }` to `present`; every entry is checked and turned into a ready
 * `tls.SecureContext` there, so a handshake never parses PEM. It is not a server and emits no events.
 *
 * IP identifiers (RFC 8738 §6): the validator cannot put an IP literal in SNI (RFC 6066 §3), so it
 * sends the reverse-DNS name (`1.0.0.127.in-addr.arpa` for 127.0.0.1, nibbles under `ip6.arpa` for
 * IPv6). An IP host is stored under that name; `get` accepts either form.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { ErrorCode, InvalidInputError } from '../errors.js';

/** A challenge as an agent presents it. */
export interface TlsAlpn01Challenge {
  /** The identifier being validated: a DNS name or an IP literal (IPv6 with or without brackets). */
  host: string;
  /** The challenge certificate (PEM); its subjectAltName must be `host` and nothing else. */
  certPem: string;
  /** Its private key (PEM). */
  keyPem: string;
}

/** A live challenge, as the responder serves it. */
export interface TlsAlpn01Entry {
  /** The identifier as presented, normalized (lowercase, no trailing dot, IPv6 without brackets). */
  host: string;
  /** The name a validator sends in SNI for it: `host` itself, or the reverse-DNS name of an IP. */
  serverName: string;
  certPem: string;
  keyPem: string;
  /** A TLS context holding exactly this certificate and key. */
  secureContext: SecureContext;
}

/** DER of OBJECT IDENTIFIER 1.3.6.1.5.5.7.1.31, id-pe-acmeIdentifier (RFC 8737 §6.1). */
const ACME_IDENTIFIER_OID_DER = Buffer.from('06082b0601050507011f', 'hex');
/** RFC 1035 §2.3.4. */
const MAX_NAME_LENGTH = 253;
const LABEL_RE = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;
/** A PEM larger than this is not a challenge certificate or key (they are well under 2 KiB). */
const MAX_PEM_LENGTH = 16 * 1024;

/**
 * The SNI name under which a validator asks for `host`'s challenge: the lowercased DNS name without a
 * trailing dot, or for an IP literal its reverse-DNS name (RFC 8738 §6, RFC 1035 §3.5, RFC 3596 §2.5).
 * '' when `host` is neither a DNS name nor an IP literal.
 */
export function tlsAlpnServerName(host: string): string {
  if (typeof host !== 'string') return '';
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  const family = isIP(h);
  if (family === 4) return `${h.split('.').reverse().join('.')}.in-addr.arpa`;
  if (family === 6) {
    const nibbles = ipv6Hex(h);
    return nibbles === undefined ? '' : `${[...nibbles].reverse().join('.')}.ip6.arpa`;
  }
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h === '' || h.length > MAX_NAME_LENGTH || !h.split('.').every((l) => LABEL_RE.test(l))) return '';
  return h;
}

/** The 32 hex digits of an IPv6 literal accepted by `net.isIP` (RFC 4291 §2.2 text forms); undefined with a zone id. */
function ipv6Hex(ip: string): string | undefined {
  if (ip.includes('%')) return undefined;
  const groups = (part: string): string[] =>
    part === ''
      ? []
      : part.split(':').flatMap((piece) => {
          if (!piece.includes('.')) return [piece.padStart(4, '0')];
          const b = piece.split('.').map((n) => Number(n).toString(16).padStart(2, '0'));
          return [`${b[0]}${b[1]}`, `${b[2]}${b[3]}`];
        });
  const gap = ip.indexOf('::');
  const all =
    gap === -1
      ? groups(ip)
      : (() => {
          const head = groups(ip.slice(0, gap));
          const tail = groups(ip.slice(gap + 2));
          return [...head, ...new Array<string>(8 - head.length - tail.length).fill('0000'), ...tail];
        })();
  return all.join('');
}

/** The identifier itself, normalized: lowercase, no trailing dot, IPv6 without brackets. */
function normalizeIdentifier(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (isIP(h) === 0 && h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

function invalid(code: string, message: string, data: Record<string, unknown> = {}): InvalidInputError {
  return new InvalidInputError(code, message, { step: 'challenge', data });
}

/**
 * Live tls-alpn-01 challenges keyed by SNI name. One certificate per name: presenting again for the same
 * host replaces the previous one (the CA validates the latest), and `cleanup` with a `certPem` removes
 * only that certificate, so a late cleanup of a replaced challenge cannot remove its successor.
 */
export class TlsAlpn01Store {
  readonly #byServerName = new Map<string, TlsAlpn01Entry>();

  /**
   * Checks and stores a challenge. Throws InvalidInputError, before storing anything, when:
   * the host is not a DNS name or IP literal (`ErrorCode.invalidDomain`; a wildcard:
   * `ErrorCode.wildcardNeedsDns01`); the certificate does not parse, lacks the id-pe-acmeIdentifier
   * extension, or is not for exactly this host (`ErrorCode.invalidOption`); the key does not parse or is
   * not the certificate's (`ErrorCode.keyMismatch`). Messages never include the key. Synchronous (it
   * only parses), so `await store.present(c)` and a plain call both see the error.
   */
  present(c: TlsAlpn01Challenge): void {
    const entry = this.#check(c);
    this.#byServerName.set(entry.serverName, entry);
  }

  /** Removes the challenge for `host` (only if it is still `certPem`, when given); a no-op otherwise. */
  cleanup(c: { host: string; certPem?: string }): void {
    const serverName = tlsAlpnServerName(c?.host);
    const entry = this.#byServerName.get(serverName);
    if (entry === undefined) return;
    if (c.certPem !== undefined && c.certPem !== entry.certPem) return;
    this.#byServerName.delete(serverName);
  }

  /**
   * The live challenge for an SNI name (`a.example`, `1.0.0.127.in-addr.arpa`) or an identifier
   * (`127.0.0.1`); case and one trailing dot are ignored. Undefined when there is none.
   */
  get(serverNameOrHost: string): TlsAlpn01Entry | undefined {
    const key = tlsAlpnServerName(serverNameOrHost);
    return key === '' ? undefined : this.#byServerName.get(key);
  }

  /** The SNI names with a live challenge. */
  serverNames(): string[] {
    return [...this.#byServerName.keys()];
  }

  /** Number of live challenges. */
  get size(): number {
    return this.#byServerName.size;
  }

  #check(c: TlsAlpn01Challenge): TlsAlpn01Entry {
    if (typeof c !== 'object' || c === null) throw invalid(ErrorCode.invalidOption, 'a tls-alpn-01 challenge must be an object { host, certPem, keyPem }');
    const rawHost = typeof c.host === 'string' ? c.host : '';
    const host = normalizeIdentifier(rawHost);
    if (host.startsWith('*.')) {
      throw invalid(ErrorCode.wildcardNeedsDns01, 'a wildcard cannot be validated by tls-alpn-01, whose SNI and SAN name one host (RFC 8737 §3)', {
        name: rawHost.slice(0, 300),
      });
    }
    const serverName = tlsAlpnServerName(host);
    if (serverName === '') {
      throw invalid(ErrorCode.invalidDomain, `tls-alpn-01 host ${JSON.stringify(rawHost.slice(0, 300))} is neither a DNS name nor an IP address`, {
        name: rawHost.slice(0, 300),
      });
    }
    for (const [field, value] of [['certPem', c.certPem], ['keyPem', c.keyPem]] as const) {
      if (typeof value !== 'string' || value === '' || value.length > MAX_PEM_LENGTH) {
        throw invalid(ErrorCode.invalidOption, `tls-alpn-01 ${field} must be a non-empty PEM string of at most ${MAX_PEM_LENGTH} characters`, { host });
      }
    }

    let cert: X509Certificate;
    try {
      cert = new X509Certificate(c.certPem);
    } catch {
      throw invalid(ErrorCode.invalidOption, `tls-alpn-01 certificate for ${host} is not a PEM X.509 certificate`, { host });
    }
    if (!cert.raw.includes(ACME_IDENTIFIER_OID_DER)) {
      throw invalid(ErrorCode.invalidOption, `tls-alpn-01 certificate for ${host} has no id-pe-acmeIdentifier extension (RFC 8737 §3)`, { host });
    }
    // RFC 8737 §3: the subjectAltName holds the identifier and no other name.
    const san = cert.subjectAltName ?? '';
    const entries = san === '' ? [] : san.split(', ');
    const only = entries.length === 1 ? (entries[0] ?? '') : '';
    const matches = isIP(host) === 0
      ? only.toLowerCase() === `dns:${host}`
      : only.startsWith('IP Address:') && tlsAlpnServerName(only.slice('IP Address:'.length)) === serverName;
    if (!matches) {
      throw invalid(ErrorCode.invalidOption, `tls-alpn-01 certificate for ${host} must name exactly this host in its subjectAltName (RFC 8737 §3)`, {
        host,
        subjectAltName: san.slice(0, 300),
      });
    }

    let key: KeyObject;
    try {
      key = createPrivateKey(c.keyPem);
    } catch {
      throw invalid(ErrorCode.keyMismatch, `tls-alpn-01 key for ${host} is not a PEM private key`, { host });
    }
    if (!cert.checkPrivateKey(key)) throw invalid(ErrorCode.keyMismatch, `tls-alpn-01 key for ${host} does not match its certificate`, { host });

    let secureContext: SecureContext;
    try {
      secureContext = createSecureContext({ cert: c.certPem, key: c.keyPem });
    } catch {
      throw invalid(ErrorCode.invalidOption, `tls-alpn-01 certificate or key for ${host} cannot be used by TLS`, { host });
    }
    return { host, serverName, certPem: c.certPem, keyPem: c.keyPem, secureContext };
  }
}
