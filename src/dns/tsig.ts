/**
 * TSIG (RFC 8945): signs a request with an HMAC key shared with the DNS server and verifies the server's
 * signed response. HMAC with node:crypto; MD5 is not offered. Knows the wire format (dns-wire.ts), not how
 * messages travel.
 *
 * - Request MAC (§4.3.3): HMAC over the whole unsigned message (ARCOUNT not yet counting the TSIG RR)
 *   followed by the TSIG variables (§4.3.3.1: key name, class ANY, TTL 0, algorithm name, time signed,
 *   fudge, error, other len, other data), names in canonical (lowercase, uncompressed) form.
 * - Response MAC (§4.3.3, §5.3): the same over the request MAC (length-prefixed) and the response with its
 *   TSIG RR removed, ARCOUNT decremented and the ID set back to the TSIG's Original ID.
 * - §5.2/§5.4 on the client side: the TSIG RR must be the last additional record, name and algorithm
 *   must be ours, the MAC full-length and equal, and the time within the fudge.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { RRClass, RRType, WireWriter, readName, type WireMessage } from './dns-wire.js';

/** The HMAC algorithms offered (RFC 8945 §6; hmac-sha256 is the one to use, §6 "MUST implement"). */
export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha512' | 'hmac-sha1';

export const TSIG_ALGORITHMS: readonly TsigAlgorithm[] = ['hmac-sha256', 'hmac-sha512', 'hmac-sha1'];

const HASH: Record<TsigAlgorithm, { digest: string; size: number }> = {
  'hmac-sha256': { digest: 'sha256', size: 32 },
  'hmac-sha512': { digest: 'sha512', size: 64 },
  'hmac-sha1': { digest: 'sha1', size: 20 },
};

/** A TSIG key. `secret` is the raw key bytes (the base64 in named.conf, decoded). */
export interface TsigKey {
  /** Absolute, lowercased key name, e.g. `acme-key.`. */
  name: string;
  algorithm: TsigAlgorithm;
  secret: Buffer;
}

/** TSIG error field values (RFC 8945 §3, IANA "DNS RCODEs"). */
const TSIG_ERROR_NAMES: Record<number, string> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' };

export function tsigErrorName(code: number): string {
  return TSIG_ERROR_NAMES[code] ?? `TSIGERR${code}`;
}

/** The default fudge: 300 s (RFC 8945 §10). */
export const DEFAULT_FUDGE = 300;

function algorithmName(alg: TsigAlgorithm): string {
  return `${alg}.`;
}

/** §4.3.3.1 TSIG variables, as they enter the digest. */
function tsigVariables(key: TsigKey, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  return new WireWriter()
    .name(key.name)
    .u16(RRClass.ANY)
    .u32(0)
    .name(algorithmName(key.algorithm))
    .u48(timeSigned)
    .u16(fudge)
    .u16(error)
    .u16(other.length)
    .bytes(other)
    .toBuffer();
}

function hmac(key: TsigKey, ...parts: Buffer[]): Buffer {
  const h = createHmac(HASH[key.algorithm].digest, key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** A signed request and what verifying its response needs. */
export interface SignedRequest {
  message: Buffer;
  mac: Buffer;
  timeSigned: number;
}

/**
 * Appends a TSIG RR to an unsigned message (§4.3.3, §4.2) and increments ARCOUNT.
 * @param nowSeconds Unix time in seconds; the Time Signed.
 */
export function signRequest(unsigned: Buffer, key: TsigKey, nowSeconds: number, fudge = DEFAULT_FUDGE): SignedRequest {
  const id = unsigned.readUInt16BE(0);
  const mac = hmac(key, unsigned, tsigVariables(key, nowSeconds, fudge, 0, Buffer.alloc(0)));
  const rdata = new WireWriter()
    .name(algorithmName(key.algorithm))
    .u48(nowSeconds)
    .u16(fudge)
    .u16(mac.length)
    .bytes(mac)
    .u16(id)
    .u16(0)
    .u16(0)
    .toBuffer();
  const rr = new WireWriter().name(key.name).u16(RRType.TSIG).u16(RRClass.ANY).u32(0).u16(rdata.length).bytes(rdata).toBuffer();
  const message = Buffer.concat([unsigned, rr]);
  message.writeUInt16BE(unsigned.readUInt16BE(10) + 1, 10);
  return { message, mac, timeSigned: nowSeconds };
}

/** The TSIG RR of a response, decoded (§4.2). */
export interface TsigRecord {
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
  /** Offset of the TSIG RR in the message (where the MAC'd bytes end). */
  start: number;
}

/** The response's TSIG RR, or null when it carries none. Throws nothing: a broken TSIG RR reads as `malformed`. */
export function findTsig(msg: WireMessage): TsigRecord | 'malformed' | 'notLast' | null {
  const idx = msg.additional.findIndex((r) => r.type === RRType.TSIG);
  if (idx < 0) return null;
  if (idx !== msg.additional.length - 1) return 'notLast'; // §5.2: must be the last record
  const rr = msg.additional[idx]!;
  try {
    const raw = msg.raw;
    const end = rr.rdataStart + rr.rdataLength;
    const alg = readName(raw, rr.rdataStart);
    let off = alg.next;
    if (off + 10 > end) return 'malformed';
    const timeSigned = raw.readUIntBE(off, 6);
    const fudge = raw.readUInt16BE(off + 6);
    const macSize = raw.readUInt16BE(off + 8);
    off += 10;
    if (off + macSize + 6 > end) return 'malformed';
    const mac = raw.subarray(off, off + macSize);
    off += macSize;
    const originalId = raw.readUInt16BE(off);
    const error = raw.readUInt16BE(off + 2);
    const otherLen = raw.readUInt16BE(off + 4);
    off += 6;
    if (off + otherLen !== end) return 'malformed';
    const other = raw.subarray(off, off + otherLen);
    return { keyName: rr.name, algorithm: alg.name, timeSigned, fudge, mac: Buffer.from(mac), originalId, error, other: Buffer.from(other), start: rr.start };
  } catch {
    return 'malformed';
  }
}

/** The outcome of verifying a response's TSIG. */
export type TsigVerdict =
  | { ok: true }
  /** `tsigError`: the server's own TSIG error (it could not verify us), or what we found wrong with its MAC. */
  | { ok: false; tsigError: string; by: 'server' | 'client'; detail: string };

/**
 * Verifies the TSIG of a response to a request signed with `key` (§5.3, §5.4, client side).
 * A response without TSIG fails with `by: 'client'` (the caller decides what an unsigned error means).
 */
export function verifyResponse(msg: WireMessage, key: TsigKey, request: SignedRequest, nowSeconds: number): TsigVerdict {
  const t = findTsig(msg);
  if (t === null) return { ok: false, tsigError: 'UNSIGNED', by: 'client', detail: 'the response carries no TSIG record' };
  if (t === 'notLast' || t === 'malformed') return { ok: false, tsigError: 'FORMERR', by: 'client', detail: `the response's TSIG record is ${t === 'notLast' ? 'not the last record' : 'malformed'}` };
  if (t.error !== 0) return { ok: false, tsigError: tsigErrorName(t.error), by: 'server', detail: 'the server could not verify the request signature' };
  if (t.keyName !== key.name || t.algorithm !== algorithmName(key.algorithm)) {
    return { ok: false, tsigError: 'BADKEY', by: 'client', detail: 'the response is signed with another key or algorithm' };
  }
  if (t.mac.length !== HASH[key.algorithm].size) {
    return { ok: false, tsigError: 'BADTRUNC', by: 'client', detail: 'the response MAC is truncated' };
  }
  const stripped = Buffer.from(msg.raw.subarray(0, t.start));
  stripped.writeUInt16BE(t.originalId, 0);
  stripped.writeUInt16BE(msg.header.counts[3] - 1, 10);
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(request.mac.length);
  const expected = hmac(key, prefix, request.mac, stripped, tsigVariables(key, t.timeSigned, t.fudge, t.error, t.other));
  if (!timingSafeEqual(expected, t.mac)) return { ok: false, tsigError: 'BADSIG', by: 'client', detail: 'the response MAC does not verify' };
  if (Math.abs(nowSeconds - t.timeSigned) > t.fudge) return { ok: false, tsigError: 'BADTIME', by: 'client', detail: 'the response was signed outside the fudge window' };
  return { ok: true };
}
