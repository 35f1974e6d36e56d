/**
 * The messages the rfc2136 provider sends, unsigned (tsig.ts signs them), and what it reads back:
 *
 * - an UPDATE (RFC 2136 §2) whose zone section names the zone (§2.3: ZTYPE SOA, ZCLASS IN), with no
 *   prerequisites, and one update RR that either adds one TXT RR (§2.5.1: class IN, the TTL) or deletes
 *   that one RR by value (§2.5.4: class NONE, TTL 0, same RDATA). It never deletes a whole RRset (§2.5.2),
 *   so other values on the name (a wildcard's next to its apex's, another client's) stay. A duplicate add
 *   and the delete of an absent RR are no-ops at the server (§3.4.2.2, §3.4.2.4), so retransmission is safe;
 * - a SOA query (RFC 1035 §4.1) for the record's name, whose answer or authority SOA names the zone.
 */
import { Opcode, RRClass, RRType, WireWriter, writeHeader, type WireMessage } from './dns-wire.js';

/** One TXT change: the zone, the absolute record name, its value and TTL. */
export interface TxtChange {
  /** Absolute zone name, lowercased: `example.test.`. */
  zone: string;
  /** Absolute record name: `_acme-challenge.example.test.`. */
  fqdn: string;
  /** The TXT value: one character-string of at most 255 bytes (RFC 1035 §3.3.14). */
  value: string;
  /** TTL of an added RR, seconds. */
  ttl: number;
}

/** A TXT value that one character-string can hold: 1-255 printable ASCII bytes. */
export function isTxtValue(value: string): boolean {
  return typeof value === 'string' && value.length > 0 && value.length <= 255 && /^[\x20-\x7e]+$/.test(value);
}

function txtRdata(value: string): Buffer {
  const b = Buffer.from(value, 'ascii');
  return Buffer.concat([Buffer.from([b.length]), b]);
}

/** An UPDATE adding (§2.5.1) or deleting by value (§2.5.4) one TXT RR. ID in the header, unsigned. */
export function buildTxtUpdate(op: 'add' | 'delete', change: TxtChange, id: number): Buffer {
  const w = new WireWriter();
  writeHeader(w, { id, opcode: Opcode.UPDATE, counts: [1, 0, 1, 0] });
  w.name(change.zone).u16(RRType.SOA).u16(RRClass.IN);
  const rdata = txtRdata(change.value);
  w.name(change.fqdn)
    .u16(RRType.TXT)
    .u16(op === 'add' ? RRClass.IN : RRClass.NONE)
    .u32(op === 'add' ? change.ttl : 0)
    .u16(rdata.length)
    .bytes(rdata);
  return w.toBuffer();
}

/** A standard query (no recursion wanted) for `name`'s SOA. */
export function buildSoaQuery(name: string, id: number): Buffer {
  const w = new WireWriter();
  writeHeader(w, { id, opcode: Opcode.QUERY, counts: [1, 0, 0, 0] });
  w.name(name).u16(RRType.SOA).u16(RRClass.IN);
  return w.toBuffer();
}

/**
 * The zone a SOA response names: the owner of the SOA in the answer (the name is the apex) or in the
 * authority section (NODATA or NXDOMAIN from the zone's authority, RFC 2308 §2). Undefined when neither.
 */
export function zoneFromSoaResponse(msg: WireMessage): string | undefined {
  const soa = msg.answers.find((r) => r.type === RRType.SOA) ?? msg.authority.find((r) => r.type === RRType.SOA);
  return soa?.name;
}

