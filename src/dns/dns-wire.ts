/**
 * The DNS wire format (RFC 1035 §4.1) as far as dynamic updates need it: domain names (uncompressed on
 * write, compressed or not on read, §4.1.4), a byte writer, and a reader that splits a response into its
 * header and resource records while keeping each record's byte offsets (TSIG verification needs the exact
 * bytes before the TSIG record, RFC 8945 §5.3). It builds no particular message (see dns-update.ts) and
 * sends nothing.
 *
 * Why not the `dns-packet` library: 5.6.1 cannot encode class NONE (254), which RFC 2136 §2.5.4 requires to
 * delete one RR by value; it has no TSIG record codec; and its decoder gives no per-record offsets.
 */
import { DnsError, ErrorCode } from '../errors.js';

/** RR TYPE values used here (RFC 1035 §3.2.2, RFC 8945 §4.2). */
export const RRType = { A: 1, NS: 2, SOA: 6, TXT: 16, AAAA: 28, TSIG: 250 } as const;
/** CLASS values: IN (RFC 1035 §3.2.4), NONE and ANY as RFC 2136 §2.5 and RFC 8945 §4.2 use them. */
export const RRClass = { IN: 1, NONE: 254, ANY: 255 } as const;
/** OPCODE values (RFC 1035 §4.1.1, RFC 2136 §2.2). */
export const Opcode = { QUERY: 0, UPDATE: 5 } as const;

/** RCODE names (RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 8945 §3). */
const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
};

/** The mnemonic of an RCODE, or `RCODE<n>` for one without a name here. */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

/** Maximum wire length of a name (RFC 1035 §2.3.4) and of one label. */
const MAX_NAME = 255;
const MAX_LABEL = 63;

/**
 * Checks a presentation-form domain name and returns it lowercased and absolute (trailing dot). Accepts
 * LDH labels plus `_` and a leading `*` label (what challenge names and zones use); refuses escapes,
 * empty labels and over-long names. Returns null when the name is not acceptable.
 */
export function normalizeName(name: string): string | null {
  if (typeof name !== 'string' || name === '' || name === '.') return null;
  const abs = name.endsWith('.') ? name : `${name}.`;
  const labels = abs.slice(0, -1).split('.');
  let wire = 1;
  for (const label of labels) {
    if (label.length === 0 || label.length > MAX_LABEL) return null;
    if (!/^(\*|[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)$/.test(label)) return null;
    wire += label.length + 1;
  }
  if (wire > MAX_NAME) return null;
  return abs.toLowerCase();
}

/** `name` is `zone` or below it (both absolute, lowercased). */
export function isInZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

/** Encodes an absolute name without compression, lowercased (the canonical form of RFC 4034 §6.2). */
export function encodeName(absName: string): Buffer {
  const labels = absName === '.' ? [] : absName.replace(/\.$/, '').split('.');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const b = Buffer.from(label.toLowerCase(), 'ascii');
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** Appends big-endian integers and byte strings; `toBuffer()` joins them. */
export class WireWriter {
  readonly #parts: Buffer[] = [];

  u8(v: number): this {
    this.#parts.push(Buffer.from([v & 0xff]));
    return this;
  }

  u16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v & 0xffff);
    this.#parts.push(b);
    return this;
  }

  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    this.#parts.push(b);
    return this;
  }

  /** 48-bit unsigned, as TSIG's Time Signed (RFC 8945 §4.2). */
  u48(v: number): this {
    const b = Buffer.alloc(6);
    b.writeUIntBE(v, 0, 6);
    this.#parts.push(b);
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#parts.push(Buffer.from(b));
    return this;
  }

  name(absName: string): this {
    return this.bytes(encodeName(absName));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

/** The header fields of a message (RFC 1035 §4.1.1). */
export interface DnsHeader {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rcode: number;
  /** QDCOUNT/ZOCOUNT, ANCOUNT/PRCOUNT, NSCOUNT/UPCOUNT, ARCOUNT/ADCOUNT. */
  counts: [number, number, number, number];
}

/** Writes a 12-byte header; the flags word holds QR, OPCODE, RD and (in responses) RCODE. */
export function writeHeader(w: WireWriter, h: { id: number; opcode: number; rd?: boolean; counts: [number, number, number, number] }): void {
  const flags = ((h.opcode & 0xf) << 11) | (h.rd === true ? 0x0100 : 0);
  w.u16(h.id).u16(flags);
  for (const c of h.counts) w.u16(c);
}

/** One resource record of a parsed message, with where it lies in the message bytes. */
export interface WireRecord {
  name: string;
  type: number;
  klass: number;
  ttl: number;
  /** Offset of the record's first byte (its owner name). */
  start: number;
  rdataStart: number;
  rdataLength: number;
}

/** A parsed message: header, question names, and the records of the three other sections. */
export interface WireMessage {
  header: DnsHeader;
  questions: Array<{ name: string; type: number; klass: number }>;
  answers: WireRecord[];
  authority: WireRecord[];
  additional: WireRecord[];
  raw: Buffer;
}

function malformed(reason: string): DnsError {
  return new DnsError(ErrorCode.dnsProvider, `malformed DNS response: ${reason}`, { step: 'dns', data: { reason: 'malformedResponse', detail: reason } });
}

/**
 * Reads a possibly compressed name at `offset` (RFC 1035 §4.1.4). Returns the absolute lowercased name
 * and the offset just after it in the original position (not after a pointer's target).
 * @throws DnsError when the name runs past the message, loops, or is too long.
 */
export function readName(buf: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  let jumps = 0;
  let length = 1;
  for (;;) {
    if (pos >= buf.length) throw malformed('name runs past the end');
    const len = buf[pos]!;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw malformed('truncated compression pointer');
      if (++jumps > 64) throw malformed('compression loop');
      if (next < 0) next = pos + 2;
      pos = ((len & 0x3f) << 8) | buf[pos + 1]!;
      continue;
    }
    if ((len & 0xc0) !== 0) throw malformed('unknown label type');
    if (len === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    if (pos + 1 + len > buf.length) throw malformed('label runs past the end');
    length += len + 1;
    if (length > MAX_NAME) throw malformed('name too long');
    labels.push(buf.toString('latin1', pos + 1, pos + 1 + len).toLowerCase());
    pos += 1 + len;
  }
  return { name: labels.length === 0 ? '.' : `${labels.join('.')}.`, next };
}

function u16At(buf: Buffer, off: number): number {
  if (off + 2 > buf.length) throw malformed('message too short');
  return buf.readUInt16BE(off);
}

/**
 * Splits a message into header, questions and records (RFC 1035 §4.1). Record data is not decoded: the
 * callers read what they need through the offsets.
 * @throws DnsError (`ERR_DNS_PROVIDER`, data.reason `malformedResponse`) on any inconsistency.
 */
export function parseMessage(raw: Buffer): WireMessage {
  if (raw.length < 12) throw malformed('shorter than a header');
  const flags = raw.readUInt16BE(2);
  const header: DnsHeader = {
    id: raw.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rcode: flags & 0xf,
    counts: [raw.readUInt16BE(4), raw.readUInt16BE(6), raw.readUInt16BE(8), raw.readUInt16BE(10)],
  };
  let off = 12;
  const questions: WireMessage['questions'] = [];
  for (let i = 0; i < header.counts[0]; i++) {
    const { name, next } = readName(raw, off);
    questions.push({ name, type: u16At(raw, next), klass: u16At(raw, next + 2) });
    off = next + 4;
  }
  const section = (count: number): WireRecord[] => {
    const out: WireRecord[] = [];
    for (let i = 0; i < count; i++) {
      const start = off;
      const { name, next } = readName(raw, off);
      if (next + 10 > raw.length) throw malformed('record header runs past the end');
      const rdataLength = raw.readUInt16BE(next + 8);
      const rdataStart = next + 10;
      if (rdataStart + rdataLength > raw.length) throw malformed('record data runs past the end');
      out.push({ name, type: raw.readUInt16BE(next), klass: raw.readUInt16BE(next + 2), ttl: raw.readUInt32BE(next + 4), start, rdataStart, rdataLength });
      off = rdataStart + rdataLength;
    }
    return out;
  };
  const answers = section(header.counts[1]);
  const authority = section(header.counts[2]);
  const additional = section(header.counts[3]);
  return { header, questions, answers, authority, additional, raw };
}
