/**
 * PKCS#10 certificate signing requests (RFC 2986) for ACME finalize (RFC 8555 §7.4). The ASN.1 is
 * built with `forge.asn1` and signed with node:crypto, because forge itself can only sign with RSA.
 * It does not validate names: callers pass names
 * already through `normalizeNames`.
 */
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { ipLiteralFamily } from './ip-literal.js';
import type forge from 'node-forge';
import { asn1 } from './forge-asn1.js';

import { ErrorCode, InvalidInputError } from '../errors.js';

type Asn1 = forge.asn1.Asn1;

/** Upper bound of a CommonName (RFC 5280 Appendix A, `ub-common-name`). */
const UB_COMMON_NAME = 64;

const OID = {
  commonName: '2.5.4.3',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
} as const;

/** A CSR in DER and PEM ("CERTIFICATE REQUEST") form. */
export interface Csr {
  der: Buffer;
  pem: string;
}

/**
 * Builds and signs a CSR for `names` with `privateKey` (RSA, P-256 or P-384).
 *
 * - subject: `CN=names[0]` when it has at most 64 characters, else empty (RFC 5280 `ub-common-name`;
 *   RFC 8555 §7.4 relies on the subjectAltName anyway);
 * - an extensionRequest attribute (RFC 2986 §4.1, PKCS#9 1.2.840.113549.1.9.14) carrying a
 *   subjectAltName (RFC 5280 §4.2.1.6) with every name: `dNSName`, or `iPAddress` for IP literals (RFC 8738 §3);
 * - signature: sha256WithRSAEncryption for RSA, ecdsa-with-SHA256 for P-256, ecdsa-with-SHA384 for P-384
 *   (RFC 5758 §3.2: no parameters for ECDSA).
 *
 * @throws InvalidInputError (`ErrorCode.invalidDomain`) when `names` is empty, or
 * (`ErrorCode.invalidKeyType`) for an unsupported key.
 */
export function createCsr(opts: { privateKey: KeyObject; names: string[] }): Csr {
  const { privateKey, names } = opts;
  const first = names[0];
  if (first === undefined) {
    throw new InvalidInputError(ErrorCode.invalidDomain, 'a CSR needs at least one name', {
      step: 'finalize',
      data: { name: '', reason: 'no names' },
    });
  }
  const { digest, algorithm } = signatureAlgorithm(privateKey);

  const spkiDer = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const spki = asn1.fromDer(spkiDer.toString('binary'));

  const subjectRdns: Asn1[] =
    first.length <= UB_COMMON_NAME
      ? [
          set([
            seq([oid(OID.commonName), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, Buffer.from(first, 'utf8').toString('binary'))]),
          ]),
        ]
      : [];

  const sanValue = seq(names.map(generalName));
  const extensions = seq([
    seq([oid(OID.subjectAltName), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, asn1.toDer(sanValue).getBytes())]),
  ]);
  const attributes = asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
    seq([oid(OID.extensionRequest), set([extensions])]),
  ]);

  // CertificationRequestInfo ::= SEQUENCE { version, subject, subjectPKInfo, attributes [0] } (RFC 2986 §4.1)
  const info = seq([
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(0).getBytes()),
    seq(subjectRdns),
    spki,
    attributes,
  ]);
  const infoDer = Buffer.from(asn1.toDer(info).getBytes(), 'binary');
  const signature = sign(digest, infoDer, privateKey); // ECDSA: DER-encoded Ecdsa-Sig-Value (node's default)

  // CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature BIT STRING } (RFC 2986 §4.2)
  const csr = seq([
    info,
    algorithm,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\x00' + signature.toString('binary')),
  ]);
  const der = Buffer.from(asn1.toDer(csr).getBytes(), 'binary');
  return { der, pem: toPem(der) };
}

function signatureAlgorithm(key: KeyObject): { digest: 'sha256' | 'sha384'; algorithm: Asn1 } {
  if (key.asymmetricKeyType === 'rsa') {
    return { digest: 'sha256', algorithm: seq([oid(OID.sha256WithRSAEncryption), asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')]) };
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { digest: 'sha256', algorithm: seq([oid(OID.ecdsaWithSHA256)]) };
    if (curve === 'secp384r1') return { digest: 'sha384', algorithm: seq([oid(OID.ecdsaWithSHA384)]) };
  }
  throw new InvalidInputError(ErrorCode.invalidKeyType, `cannot sign a CSR with a ${key.asymmetricKeyType ?? key.type} key`, {
    step: 'finalize',
  });
}

/** GeneralName (RFC 5280 §4.2.1.6): dNSName [2] IA5String, iPAddress [7] OCTET STRING (4 or 16 bytes). */
function generalName(name: string): Asn1 {
  const family = ipLiteralFamily(name);
  if (family === 4) return asn1.create(asn1.Class.CONTEXT_SPECIFIC, 7, false, ipv4Bytes(name).toString('binary'));
  if (family === 6) return asn1.create(asn1.Class.CONTEXT_SPECIFIC, 7, false, ipv6Bytes(name).toString('binary'));
  return asn1.create(asn1.Class.CONTEXT_SPECIFIC, 2, false, name);
}

function ipv4Bytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number));
}

/** The 16 bytes of an IPv6 literal already accepted by `net.isIP` (RFC 4291 §2.2 text forms). */
function ipv6Bytes(ip: string): Buffer {
  const text = ip.replace(/%.*$/, ''); // a zone id has no place in a certificate
  const toGroups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const b = ipv4Bytes(piece);
        out.push(((b[0] ?? 0) << 8) | (b[1] ?? 0), ((b[2] ?? 0) << 8) | (b[3] ?? 0));
      } else {
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const gap = text.indexOf('::');
  let groups: number[];
  if (gap === -1) {
    groups = toGroups(text);
  } else {
    const head = toGroups(text.slice(0, gap));
    const tail = toGroups(text.slice(gap + 2));
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const buf = Buffer.alloc(16);
  groups.forEach((g, i) => buf.writeUInt16BE(g, i * 2));
  return buf;
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

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE REQUEST-----\n${lines.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}
