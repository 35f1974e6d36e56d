/**
 * Reading issued certificates: splitting the PEM chain the CA returns (RFC 8555 §7.4.2,
 * application/pem-certificate-chain), describing a leaf with node's `X509Certificate`, and checking
 * that a certificate belongs to a private key. It does not verify chains or talk to the CA.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';

import { ErrorCode, ProtocolError } from '../errors.js';
import { type KeyType } from './key-type.js';
import { keyTypeOf } from './keys.js';

/** What leec reports about a certificate. */
export interface CertificateInfo {
  /** Subject DN, node's RDNs joined with ", " (e.g. "CN=example.test"). */
  subject: string;
  /** Issuer DN, same form as `subject`. */
  issuer: string;
  /** The DNS and IP subjectAltName entries, in certificate order (IPv6 in RFC 5952 form). */
  names: string[];
  notBefore: Date;
  notAfter: Date;
  /** Serial number in upper-case hex, as node prints it. */
  serialNumber: string;
  /** SHA-256 fingerprint of the DER, colon-separated upper-case hex. */
  fingerprint256: string;
  /** The subject public key's type, when it is one leec knows. */
  keyType?: KeyType;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

/**
 * Splits a PEM chain (leaf first, RFC 8555 §9.1) into one PEM string per certificate, each normalised
 * to LF line endings, 64-column base64 and a trailing "\n". Text between blocks is dropped.
 *
 * @throws ProtocolError (`ErrorCode.protocol`, step `download`) when there is no certificate block.
 */
export function splitPemChain(pem: string): string[] {
  const out: string[] = [];
  for (const m of String(pem).matchAll(PEM_BLOCK)) {
    const body = (m[1] ?? '').replace(/\s+/g, '');
    if (body === '') continue;
    const lines = body.match(/.{1,64}/g) ?? [];
    out.push(`-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`);
  }
  if (out.length === 0) {
    throw new ProtocolError(ErrorCode.protocol, 'the certificate download holds no PEM certificate', {
      step: 'download',
      data: { length: String(pem).length },
    });
  }
  return out;
}

/**
 * Describes a certificate (the first one when `pem` is a chain) with node's `X509Certificate`.
 * Throws node's parse error for input that is not a certificate.
 */
export function describeCertificate(pem: string): CertificateInfo {
  const cert = new X509Certificate(pem);
  const info: CertificateInfo = {
    subject: joinDn(cert.subject),
    issuer: joinDn(cert.issuer),
    names: parseSubjectAltName(cert.subjectAltName),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    serialNumber: cert.serialNumber,
    fingerprint256: cert.fingerprint256,
  };
  try {
    info.keyType = keyTypeOf(cert.publicKey);
  } catch {
    // a key type leec does not generate: leave keyType out
  }
  return info;
}

/**
 * True when the certificate's public key is the public half of `privateKeyPem`
 * (`X509Certificate.checkPrivateKey`). Throws node's parse error for unparsable input.
 */
export function certificateMatchesKey(certPem: string, privateKeyPem: string): boolean {
  const cert = new X509Certificate(certPem);
  const key = createPrivateKey({ key: privateKeyPem, format: 'pem' });
  return cert.checkPrivateKey(key);
}

/** Node gives `undefined` for an empty subject (a certificate whose names all exceed 64 characters). */
function joinDn(dn: string | undefined): string {
  return (dn ?? '').split('\n').filter((s) => s !== '').join(', ');
}

/**
 * Parses node's subjectAltName text ("DNS:a, DNS:b, IP Address:1.2.3.4"), where node JSON-quotes a
 * value that contains a separator, and keeps the DNS and IP entries.
 */
function parseSubjectAltName(san: string | undefined): string[] {
  if (san === undefined || san === '') return [];
  const names: string[] = [];
  let i = 0;
  while (i < san.length) {
    const colon = san.indexOf(':', i);
    if (colon === -1) break;
    const kind = san.slice(i, colon);
    let value: string;
    let next: number;
    if (san[colon + 1] === '"') {
      // JSON string: find the closing quote, honouring backslash escapes
      let j = colon + 2;
      while (j < san.length && san[j] !== '"') j += san[j] === '\\' ? 2 : 1;
      const raw = san.slice(colon + 1, j + 1);
      try {
        value = JSON.parse(raw) as string;
      } catch {
        value = raw.slice(1, -1);
      }
      next = san.indexOf(', ', j + 1);
    } else {
      next = san.indexOf(', ', colon + 1);
      value = san.slice(colon + 1, next === -1 ? undefined : next);
    }
    if (kind === 'DNS') names.push(value.toLowerCase());
    else if (kind === 'IP Address') names.push(canonicalIp(value));
    if (next === -1) break;
    i = next + 2;
  }
  return names;
}

/** IPv6 in RFC 5952 form (lower case, longest zero run compressed); IPv4 unchanged. */
function canonicalIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}
