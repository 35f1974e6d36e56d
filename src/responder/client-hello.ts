/**
 * A small TLS ClientHello reader: from the first bytes a client sends, the SNI host name (RFC 6066 §3)
 * and the ALPN protocol list (RFC 7301 §3.1), so the tls-alpn-01 responder can decide who answers a
 * connection before any TLS starts (Node's SNICallback does not see ALPN). It reads the record layer
 * (RFC 8446 §5.1, a ClientHello may span several handshake records) and the ClientHello body
 * (RFC 8446 §4.1.2, same layout for TLS 1.0-1.2, RFC 5246 §7.4.1.2). It performs no TLS and decrypts
 * nothing; every length is bounds-checked, so any input gives a result, never an exception.
 */

/** TLS record content type `handshake` (RFC 8446 §5.1). */
export const TLS_HANDSHAKE_RECORD = 0x16;

/** Upper bound of the bytes a ClientHello may take, record headers included. Larger ones are refused. */
export const MAX_CLIENT_HELLO_BYTES = 32 * 1024;

/** RFC 8446 §5.1: a TLSPlaintext fragment is at most 2^14 bytes. */
const MAX_RECORD_FRAGMENT = 1 << 14;
const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const HOST_NAME = 0;

/** What the bytes seen so far say. */
export type ClientHelloResult =
  /**
   * More bytes are needed (every byte checked so far is consistent with a ClientHello). No `hello`
   * answer is possible before the input has `needed` bytes, so a reader may wait for that many before
   * asking again (only an `invalid` answer could come sooner).
   */
  | { kind: 'incomplete'; needed: number }
  /** Not a TLS ClientHello, or a malformed or oversized one. `reason` is for logs (no client data in it). */
  | { kind: 'invalid'; reason: string }
  | {
      kind: 'hello';
      /** The `host_name` of the server_name extension, as sent (not lowercased); undefined without SNI. */
      serverName: string | undefined;
      /** The ALPN protocol names in the client's order (latin1-decoded bytes); [] without the extension. */
      alpnProtocols: string[];
      /** How many input bytes the ClientHello records took (bytes after them belong to the next records). */
      length: number;
    };

/**
 * Reads the ClientHello at the start of `data`. Answers `incomplete` while a prefix of a plausible
 * ClientHello is all there is, `invalid` as soon as a byte rules it out (so plain HTTP or garbage is
 * recognised from its first byte), `hello` once the whole handshake message is in.
 */
export function parseClientHello(data: Uint8Array, maxBytes: number = MAX_CLIENT_HELLO_BYTES): ClientHelloResult {
  const assembled = assembleHandshake(data, maxBytes);
  if (assembled.kind !== 'message') return assembled;
  const body = parseBody(assembled.message);
  if (typeof body === 'string') return { kind: 'invalid', reason: body };
  return { kind: 'hello', serverName: body.serverName, alpnProtocols: body.alpnProtocols, length: assembled.length };
}

type Assembled = { kind: 'incomplete'; needed: number } | { kind: 'invalid'; reason: string } | { kind: 'message'; message: Uint8Array; length: number };

/** Concatenates handshake record fragments until the first handshake message is whole (RFC 8446 §5.1). */
function assembleHandshake(data: Uint8Array, maxBytes: number): Assembled {
  const fragments: Uint8Array[] = [];
  let fragmentBytes = 0;
  let messageLength: number | undefined;
  let offset = 0;
  for (;;) {
    if (offset >= data.length) return { kind: 'incomplete', needed: offset + 1 };
    if (data[offset] !== TLS_HANDSHAKE_RECORD) return { kind: 'invalid', reason: 'not a TLS handshake record' };
    if (offset + 1 < data.length && data[offset + 1] !== 3) return { kind: 'invalid', reason: 'not a TLS record version' };
    if (offset + RECORD_HEADER > data.length) return { kind: 'incomplete', needed: offset + RECORD_HEADER };
    const recordLength = ((data[offset + 3] ?? 0) << 8) | (data[offset + 4] ?? 0);
    if (recordLength === 0 || recordLength > MAX_RECORD_FRAGMENT) return { kind: 'invalid', reason: 'bad TLS record length' };
    const end = offset + RECORD_HEADER + recordLength;
    if (end > maxBytes) return { kind: 'invalid', reason: 'ClientHello too large' };
    // Look at the handshake header as soon as its bytes are in, so a wrong type fails early.
    const available = data.subarray(offset + RECORD_HEADER, Math.min(end, data.length));
    const header = concat([...fragments, available]);
    if (header.length >= 1 && header[0] !== CLIENT_HELLO) return { kind: 'invalid', reason: 'first handshake message is not a ClientHello' };
    if (messageLength === undefined && header.length >= HANDSHAKE_HEADER) {
      messageLength = ((header[1] ?? 0) << 16) | ((header[2] ?? 0) << 8) | (header[3] ?? 0);
      if (HANDSHAKE_HEADER + messageLength > maxBytes) return { kind: 'invalid', reason: 'ClientHello too large' };
    }
    if (end > data.length) return { kind: 'incomplete', needed: end };
    fragments.push(available);
    fragmentBytes += available.length;
    offset = end;
    if (messageLength !== undefined && fragmentBytes >= HANDSHAKE_HEADER + messageLength) {
      const all = concat(fragments);
      return { kind: 'message', message: all.subarray(HANDSHAKE_HEADER, HANDSHAKE_HEADER + messageLength), length: offset };
    }
  }
}

/** A bounds-checked cursor over a byte range. Every read returns undefined past the end. */
class Reader {
  #pos = 0;
  constructor(private readonly buf: Uint8Array) {}
  get remaining(): number {
    return this.buf.length - this.#pos;
  }
  u8(): number | undefined {
    return this.#pos + 1 <= this.buf.length ? this.buf[this.#pos++] : undefined;
  }
  u16(): number | undefined {
    if (this.#pos + 2 > this.buf.length) return undefined;
    const v = ((this.buf[this.#pos] ?? 0) << 8) | (this.buf[this.#pos + 1] ?? 0);
    this.#pos += 2;
    return v;
  }
  bytes(n: number): Uint8Array | undefined {
    if (this.#pos + n > this.buf.length) return undefined;
    const out = this.buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }
  /** A vector with a 1- or 2-byte length prefix (RFC 8446 §3.4). */
  vector(lengthBytes: 1 | 2): Uint8Array | undefined {
    const n = lengthBytes === 1 ? this.u8() : this.u16();
    return n === undefined ? undefined : this.bytes(n);
  }
}

/** The ClientHello body (RFC 8446 §4.1.2): the fields before the extensions are skipped. */
function parseBody(message: Uint8Array): { serverName: string | undefined; alpnProtocols: string[] } | string {
  const r = new Reader(message);
  const version = r.u16(); // legacy_version
  if (version === undefined || version >> 8 !== 3) return 'bad ClientHello version';
  if (r.bytes(32) === undefined) return 'truncated random';
  const sessionId = r.vector(1);
  if (sessionId === undefined || sessionId.length > 32) return 'bad legacy_session_id';
  const suites = r.vector(2);
  if (suites === undefined || suites.length < 2 || suites.length % 2 !== 0) return 'bad cipher_suites';
  const compression = r.vector(1);
  if (compression === undefined || compression.length < 1) return 'bad legacy_compression_methods';
  // TLS 1.0-1.2 allow a ClientHello without extensions (RFC 5246 §7.4.1.2).
  if (r.remaining === 0) return { serverName: undefined, alpnProtocols: [] };
  const extensions = r.vector(2);
  if (extensions === undefined || r.remaining !== 0) return 'bad extensions length';

  const seen = new Set<number>();
  let serverName: string | undefined;
  let alpnProtocols: string[] = [];
  const ext = new Reader(extensions);
  while (ext.remaining > 0) {
    const type = ext.u16();
    const value = ext.vector(2);
    if (type === undefined || value === undefined) return 'truncated extension';
    // RFC 8446 §4.2: no more than one extension of each type.
    if (seen.has(type)) return 'duplicate extension';
    seen.add(type);
    if (type === EXT_SERVER_NAME) {
      const sni = parseServerName(value);
      if (typeof sni !== 'object') return sni;
      serverName = sni.name;
    } else if (type === EXT_ALPN) {
      const alpn = parseAlpn(value);
      if (!Array.isArray(alpn)) return alpn;
      alpnProtocols = alpn;
    }
  }
  return { serverName, alpnProtocols };
}

/** RFC 6066 §3: ServerNameList; one `host_name` at most, other name types skipped. */
function parseServerName(value: Uint8Array): { name: string | undefined } | string {
  const r = new Reader(value);
  const list = r.vector(2);
  if (list === undefined || r.remaining !== 0 || list.length === 0) return 'bad server_name extension';
  const entries = new Reader(list);
  let name: string | undefined;
  while (entries.remaining > 0) {
    const type = entries.u8();
    const host = entries.vector(2);
    if (type === undefined || host === undefined) return 'bad server_name entry';
    if (type !== HOST_NAME) continue;
    if (name !== undefined) return 'two host_name entries';
    if (host.length === 0) return 'empty host_name';
    name = Buffer.from(host).toString('latin1');
  }
  return { name };
}

/** RFC 7301 §3.1: ProtocolNameList<2..2^16-1> of ProtocolName<1..2^8-1>. */
function parseAlpn(value: Uint8Array): string[] | string {
  const r = new Reader(value);
  const list = r.vector(2);
  if (list === undefined || r.remaining !== 0 || list.length < 2) return 'bad ALPN extension';
  const names = new Reader(list);
  const out: string[] = [];
  while (names.remaining > 0) {
    const name = names.vector(1);
    if (name === undefined || name.length === 0) return 'bad ALPN protocol name';
    out.push(Buffer.from(name).toString('latin1'));
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts);
}
