/**
 * The two raw X.509 fields that name a certificate to its issuer, read from the DER with a tiny DER
 * reader: the serialNumber's content octets exactly as encoded (RFC 5280 §4.1.2.2; a leading 0x00 is
 * kept when the high bit is set) and the Authority Key Identifier's keyIdentifier (RFC 5280 §4.2.1.1).
 * Node's X509Certificate parses the certificate but prints the serial as a number (no leading zero) and
 * does not expose the AKI bytes. Pure; no ACME here.
 */
import { X509Certificate } from 'node:crypto';
import { ErrorCode, InvalidInputError } from '../errors.js';

export interface CertificateIdentityFields {
  /** The serialNumber INTEGER's content octets (DER, two's complement, leading 0x00 kept). */
  serial: Buffer;
  /** The AKI extension's keyIdentifier octets; undefined when the extension or the field is absent. */
  authorityKeyId: Buffer | undefined;
}

/** One DER TLV: tag byte, where the content starts and ends in the buffer. */
interface Tlv {
  tag: number;
  start: number;
  end: number;
}

/** id-ce-authorityKeyIdentifier, 2.5.29.35, as DER OID content octets. */
const AKI_OID = Buffer.from([0x55, 0x1d, 0x23]);

const TAG = {
  integer: 0x02,
  octetString: 0x04,
  oid: 0x06,
  boolean: 0x01,
  sequence: 0x30,
  /** tbsCertificate `version [0] EXPLICIT`. */
  version: 0xa0,
  /** tbsCertificate `extensions [3] EXPLICIT`. */
  extensions: 0xa3,
  /** AuthorityKeyIdentifier `keyIdentifier [0] IMPLICIT OCTET STRING`. */
  keyIdentifier: 0x80,
} as const;

function malformed(what: string): InvalidInputError {
  return new InvalidInputError(ErrorCode.invalidOption, `not a well-formed X.509 certificate: ${what}`, { step: 'input' });
}

/** Reads the TLV at `pos`, within `limit` (definite lengths only, as DER requires, X.690 §10.1). */
function readTlv(buf: Buffer, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw malformed('truncated DER');
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw malformed('high tag numbers are not used in certificates');
  let len = buf[pos + 1]!;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw malformed('bad DER length');
    len = 0;
    for (let i = 0; i < n; i += 1) len = len * 256 + buf[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > limit) throw malformed('DER length runs past its container');
  return { tag, start, end };
}

/** The TLVs directly inside a constructed value. */
function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = parent.start; pos < parent.end; pos = out[out.length - 1]!.end) out.push(readTlv(buf, pos, parent.end));
  return out;
}

function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (t === undefined || t.tag !== tag) throw malformed(`expected ${what}`);
  return t;
}

/**
 * The DER of a certificate given as PEM (the first block of a chain) or DER, checked by node's parser.
 *
 * @throws InvalidInputError (`ERR_INVALID_OPTION`, step `input`) for anything that is not a certificate.
 */
export function certificateDer(cert: string | Uint8Array): Buffer {
  try {
    return new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert)).raw;
  } catch (cause) {
    throw new InvalidInputError(ErrorCode.invalidOption, 'not an X.509 certificate (PEM or DER expected)', { step: 'input', cause });
  }
}

/**
 * The serial's content octets and the AKI keyIdentifier of a DER certificate (RFC 5280 §4.1:
 * Certificate → tbsCertificate → [version], serialNumber, ..., [3] extensions).
 *
 * @throws InvalidInputError (`ERR_INVALID_OPTION`, step `input`) for malformed DER.
 */
export function certificateIdentityFields(der: Uint8Array): CertificateIdentityFields {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const cert = expectTag(readTlv(buf, 0, buf.length), TAG.sequence, 'Certificate SEQUENCE');
  const tbs = expectTag(children(buf, cert)[0], TAG.sequence, 'tbsCertificate SEQUENCE');
  const fields = children(buf, tbs);
  let i = fields[0]?.tag === TAG.version ? 1 : 0;
  const serialTlv = expectTag(fields[i], TAG.integer, 'serialNumber INTEGER');
  if (serialTlv.end === serialTlv.start) throw malformed('empty serialNumber');
  const serial = Buffer.from(buf.subarray(serialTlv.start, serialTlv.end));
  let authorityKeyId: Buffer | undefined;
  for (i += 1; i < fields.length; i += 1) {
    if (fields[i]!.tag !== TAG.extensions) continue;
    const list = expectTag(children(buf, fields[i]!)[0], TAG.sequence, 'Extensions SEQUENCE');
    for (const ext of children(buf, list)) {
      const [oid, second, third] = children(buf, expectTag(ext, TAG.sequence, 'Extension SEQUENCE'));
      if (!buf.subarray(expectTag(oid, TAG.oid, 'extnID').start, oid!.end).equals(AKI_OID)) continue;
      // Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
      const value = expectTag(second?.tag === TAG.boolean ? third : second, TAG.octetString, 'extnValue OCTET STRING');
      const aki = expectTag(readTlv(buf, value.start, value.end), TAG.sequence, 'AuthorityKeyIdentifier SEQUENCE');
      const keyId = children(buf, aki).find((t) => t.tag === TAG.keyIdentifier);
      if (keyId !== undefined) authorityKeyId = Buffer.from(buf.subarray(keyId.start, keyId.end));
    }
  }
  return { serial, authorityKeyId };
}
