/**
 * The tls-alpn-01 challenge certificate (RFC 8737 §3): a fresh EC P-256 key and a self-signed X.509 v3
 * certificate whose subjectAltName is the single identifier being validated and which carries the
 * critical `id-pe-acmeIdentifier` extension holding SHA-256(key authorization). The ASN.1 is built with
 * `forge.asn1` and signed with node:crypto (forge's own pki signs with RSA only), as in csr.ts.
 * It does not serve the certificate: see src/responder/tls-alpn01.ts.
 */
import { createHash, generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import type forge from 'node-forge';
// Only the ASN.1 module, as in csr.ts.
import { asn1 } from './forge-asn1.js';

import { ErrorCode, InvalidInputError } from '../errors.js';

type Asn1 = forge.asn1.Asn1;

const generateKeyPairAsync = promisify(generateKeyPair);

const OID = {
  commonName: '2.5.4.3',
  subjectAltName: '2.5.29.17',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  /** id-pe-acmeIdentifier (RFC 8737 §6.1): id-pe 31. */
  acmeIdentifier: '1.3.6.1.5.5.7.1.31',
} as const;

/** The subject and issuer CN of every challenge certificate; validators look only at the SAN (RFC 8737 §3). */
const CHALLENGE_CN = 'leec tls-alpn-01 challenge';
/** notBefore is set this far in the past, for clock skew at the validator. */
const BACKDATE_MS = 60 * 60 * 1000;
/** Default lifetime: a challenge lives minutes, the certificate needs no more than a couple of days. */
const DEFAULT_VALIDITY_MS = 2 * 24 * 60 * 60 * 1000;
/** RFC 1035 §2.3.4: at most 253 characters in a name's text form. */
const MAX_NAME_LENGTH = 253;
const LABEL_RE = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** A challenge certificate and its private key, both PEM (`CERTIFICATE`, PKCS#8 `PRIVATE KEY`). */
export interface TlsAlpnCertificate {
  certPem: string;
  keyPem: string;
}

/**
 * Builds the tls-alpn-01 certificate for `identifier` (RFC 8737 §3):
 *
 * - a new EC P-256 key (generated off the event loop), signature ecdsa-with-SHA256;
 * - subjectAltName with exactly one entry: `dNSName` for a DNS name, `iPAddress` for an IPv4/IPv6 literal
 *   (RFC 8738 §6);
 * - the `id-pe-acmeIdentifier` extension (1.3.6.1.5.5.7.1.31), **critical**, whose extnValue is the DER
 *   of `Authorization ::= OCTET STRING (SIZE (32))`, the SHA-256 digest of `keyAuthorization`;
 * - validity from one hour ago to `validityMs` (default two days) from now; a random positive serial.
 *
 * @throws InvalidInputError (`ErrorCode.invalidDomain`) for an identifier that is neither a DNS name
 * nor an IP literal (a wildcard gets `ErrorCode.wildcardNeedsDns01`), (`ErrorCode.invalidOption`) for an
 * empty key authorization or a bad `validityMs`. Nothing is generated then.
 */
export async function createTlsAlpnCertificate(opts: {
  identifier: string;
  keyAuthorization: string;
  validityMs?: number;
}): Promise<TlsAlpnCertificate> {
  const san = subjectAltNameEntry(opts.identifier);
  if (typeof opts.keyAuthorization !== 'string' || opts.keyAuthorization === '') {
    throw new InvalidInputError(ErrorCode.invalidOption, 'tls-alpn-01 needs a non-empty key authorization (RFC 8555 §8.1)', {
      step: 'challenge',
    });
  }
  const validityMs = opts.validityMs ?? DEFAULT_VALIDITY_MS;
  if (!Number.isInteger(validityMs) || validityMs <= 0 || validityMs > 366 * 24 * 60 * 60 * 1000) {
    throw new InvalidInputError(ErrorCode.invalidOption, 'validityMs must be a whole number of milliseconds in (0, 366 days]', {
      step: 'challenge',
      data: { validityMs },
    });
  }
  const digest = createHash('sha256').update(opts.keyAuthorization, 'utf8').digest();

  const { privateKey, publicKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  const now = Date.now();
  const der = selfSignedDer({
    privateKey,
    publicKey,
    san,
    digest,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + validityMs),
  });
  return {
    certPem: toPem('CERTIFICATE', der),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

/** The GeneralName of the single SAN entry (RFC 5280 §4.2.1.6): dNSName [2] or iPAddress [7]. */
function subjectAltNameEntry(identifier: unknown): Asn1 {
  if (typeof identifier !== 'string' || identifier === '') {
    throw new InvalidInputError(ErrorCode.invalidDomain, 'tls-alpn-01 needs a non-empty identifier', {
      step: 'challenge',
      data: { name: '', reason: 'empty' },
    });
  }
  const bare = identifier.startsWith('[') && identifier.endsWith(']') ? identifier.slice(1, -1) : identifier;
  const family = isIP(bare);
  if (family === 4) return asn1.create(asn1.Class.CONTEXT_SPECIFIC, 7, false, Buffer.from(bare.split('.').map(Number)).toString('binary'));
  if (family === 6) {
    if (bare.includes('%')) throw badName(identifier, 'an IPv6 zone id has no place in a certificate');
    return asn1.create(asn1.Class.CONTEXT_SPECIFIC, 7, false, ipv6Bytes(bare).toString('binary'));
  }
  const name = identifier.toLowerCase();
  if (name.startsWith('*.')) {
    throw new InvalidInputError(ErrorCode.wildcardNeedsDns01, `${JSON.stringify(identifier)}: a wildcard cannot be validated by tls-alpn-01, whose SNI and SAN name one host (RFC 8737 §3)`, {
      step: 'challenge',
      data: { name: identifier },
    });
  }
  if (name.length > MAX_NAME_LENGTH || !name.split('.').every((l) => LABEL_RE.test(l))) {
    throw badName(identifier, 'not a DNS name (letters, digits, hyphens; dot-separated labels of 1-63) nor an IP address');
  }
  return asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, name);
}

function badName(identifier: string, reason: string): InvalidInputError {
  return new InvalidInputError(ErrorCode.invalidDomain, `tls-alpn-01 identifier ${JSON.stringify(identifier.slice(0, 300))}: ${reason}`, {
    step: 'challenge',
    data: { name: identifier.slice(0, 300), reason },
  });
}

/** The 16 bytes of an IPv6 literal already accepted by `net.isIP` (RFC 4291 §2.2 text forms). */
function ipv6Bytes(ip: string): Buffer {
  const groups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((piece) => {
          if (!piece.includes('.')) return [parseInt(piece, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = piece.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const gap = ip.indexOf('::');
  const all =
    gap === -1
      ? groups(ip)
      : (() => {
          const head = groups(ip.slice(0, gap));
          const tail = groups(ip.slice(gap + 2));
          return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
        })();
  const buf = Buffer.alloc(16);
  all.forEach((g, i) => buf.writeUInt16BE(g, i * 2));
  return buf;
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } (RFC 5280 §4.1). */
function selfSignedDer(o: { privateKey: KeyObject; publicKey: KeyObject; san: Asn1; digest: Buffer; notBefore: Date; notAfter: Date }): Buffer {
  const algorithm = seq([oid(OID.ecdsaWithSHA256)]); // RFC 5758 §3.2: no parameters
  const name = seq([set([seq([oid(OID.commonName), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, CHALLENGE_CN)])])]);
  const spki = asn1.fromDer(o.publicKey.export({ type: 'spki', format: 'der' }).toString('binary'));

  // A positive serial of at most 20 octets (RFC 5280 §4.1.2.2), minimal DER (no leading 0x00 needed).
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;

  // Authorization ::= OCTET STRING (SIZE (32)), the extnValue's content (RFC 8737 §3).
  const authorization = octetString(o.digest.toString('binary'));
  const extensions = asn1.create(asn1.Class.CONTEXT_SPECIFIC, 3, true, [
    seq([
      seq([oid(OID.subjectAltName), octetString(asn1.toDer(seq([o.san])).getBytes())]),
      seq([
        oid(OID.acmeIdentifier),
        asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BOOLEAN, false, '\xff'), // critical (RFC 8737 §3)
        octetString(asn1.toDer(authorization).getBytes()),
      ]),
    ]),
  ]);

  const tbs = seq([
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [integer('\x02')]), // v3
    integer(serial.toString('binary')),
    algorithm,
    name,
    seq([utcTime(o.notBefore), utcTime(o.notAfter)]),
    name,
    spki,
    extensions,
  ]);
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');
  const signature = sign('sha256', tbsDer, o.privateKey); // DER Ecdsa-Sig-Value, node's default encoding
  const cert = seq([
    tbs,
    seq([oid(OID.ecdsaWithSHA256)]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\x00' + signature.toString('binary')),
  ]);
  return Buffer.from(asn1.toDer(cert).getBytes(), 'binary');
}

/** UTCTime `YYMMDDHHMMSSZ` (RFC 5280 §4.1.2.5.1), valid for dates through 2049. */
function utcTime(d: Date): Asn1 {
  const two = (n: number): string => String(n).padStart(2, '0');
  const text = `${two(d.getUTCFullYear() % 100)}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, text);
}

function integer(bytes: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, bytes);
}

function octetString(bytes: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, bytes);
}

function seq(items: Asn1[]): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items);
}

function set(items: Asn1[]): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SET, true, items);
}

function oid(dotted: string): Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(dotted).getBytes());
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
