/**
 * The ClientHello reader (src/responder/client-hello.ts) on real ClientHello bytes captured from
 * node:tls clients through a raw TCP server on 127.0.0.1, re-framed across records, truncated at every
 * length, corrupted, and on garbage: it always answers, never throws.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { parseClientHello, type ClientHelloResult } from '../../src/responder/client-hello.js';

interface Capture {
  server: net.Server;
  port: number;
}

/** The first TLS record a `tls.connect` client sends (its ClientHello), read by a plain TCP server. */
function captureClientHello(cap: Capture, opts: tls.ConnectionOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const onConnection = (sock: net.Socket): void => {
      cap.server.off('connection', onConnection);
      let buf = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
          resolve(buf.subarray(0, 5 + buf.readUInt16BE(3)));
          sock.destroy();
        }
      });
      sock.on('error', () => undefined);
    };
    cap.server.on('connection', onConnection);
    const client = tls.connect({ port: cap.port, host: '127.0.0.1', rejectUnauthorized: false, ...opts });
    client.on('error', () => undefined);
    client.on('close', () => setTimeout(() => reject(new Error('client closed before a ClientHello was captured')), 1000).unref());
  });
}

/** Re-frames the handshake bytes of a one-record ClientHello into records of the given fragment sizes. */
function reframe(hello: Buffer, sizes: number[]): Buffer {
  const body = hello.subarray(5);
  const out: Buffer[] = [];
  let at = 0;
  for (const size of [...sizes, body.length]) {
    const piece = body.subarray(at, Math.min(body.length, at + size));
    if (piece.length === 0) break;
    const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    header.writeUInt16BE(piece.length, 3);
    out.push(header, piece);
    at += piece.length;
  }
  return Buffer.concat(out);
}

/** A hand-made ClientHello (RFC 8446 §4.1.2) with the given extensions, in one record. */
function handmadeHello(extensions: Array<[number, Buffer]>): Buffer {
  const exts = Buffer.concat(extensions.map(([type, data]) => Buffer.concat([u16(type), u16(data.length), data])));
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]),
    Buffer.alloc(32, 7), // random
    Buffer.from([0]), // legacy_session_id
    u16(2), Buffer.from([0x13, 0x01]), // cipher_suites
    Buffer.from([1, 0]), // legacy_compression_methods
    u16(exts.length), exts,
  ]);
  const hs = Buffer.concat([Buffer.from([1, 0, 0, 0]), body]);
  hs.writeUIntBE(body.length, 1, 3);
  const rec = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
  rec.writeUInt16BE(hs.length, 3);
  return Buffer.concat([rec, hs]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function alpnExt(names: string[]): [number, Buffer] {
  const list = Buffer.concat(names.map((n) => Buffer.concat([Buffer.from([n.length]), Buffer.from(n, 'latin1')])));
  return [16, Buffer.concat([u16(list.length), list])];
}

function sniExt(name: string): [number, Buffer] {
  const entry = Buffer.concat([Buffer.from([0]), u16(name.length), Buffer.from(name, 'latin1')]);
  return [0, Buffer.concat([u16(entry.length), entry])];
}

function hello(r: ClientHelloResult): Extract<ClientHelloResult, { kind: 'hello' }> {
  assert.equal(r.kind, 'hello', JSON.stringify(r));
  return r as Extract<ClientHelloResult, { kind: 'hello' }>;
}

describe('parseClientHello', () => {
  const cap = { server: net.createServer(), port: 0 };
  let withBoth: Buffer;
  let bare: Buffer;
  let tls12: Buffer;

  before(async () => {
    await new Promise<void>((resolve) => cap.server.listen(0, '127.0.0.1', resolve));
    cap.port = (cap.server.address() as net.AddressInfo).port;
    withBoth = await captureClientHello(cap, { servername: 'Shop.Example.test', ALPNProtocols: ['h2', 'acme-tls/1', 'http/1.1'] });
    bare = await captureClientHello(cap, {}); // an IP host: Node sends no SNI; no ALPN
    tls12 = await captureClientHello(cap, { servername: 'a.test', ALPNProtocols: ['acme-tls/1'], maxVersion: 'TLSv1.2' });
  });

  after(() => new Promise<void>((resolve) => cap.server.close(() => resolve())));

  it('reads SNI and ALPN from a real node:tls ClientHello', () => {
    const r = hello(parseClientHello(withBoth));
    assert.equal(r.serverName, 'Shop.Example.test');
    assert.deepEqual(r.alpnProtocols, ['h2', 'acme-tls/1', 'http/1.1']);
    assert.equal(r.length, withBoth.length);
  });

  it('a ClientHello without SNI or ALPN: serverName undefined, no protocols', () => {
    const r = hello(parseClientHello(bare));
    assert.equal(r.serverName, undefined);
    assert.deepEqual(r.alpnProtocols, []);
  });

  it('a TLS 1.2-only ClientHello', () => {
    const r = hello(parseClientHello(tls12));
    assert.equal(r.serverName, 'a.test');
    assert.deepEqual(r.alpnProtocols, ['acme-tls/1']);
  });

  it('every strict prefix is incomplete', () => {
    for (let n = 0; n < withBoth.length; n += 1) {
      const r = parseClientHello(withBoth.subarray(0, n));
      assert.equal(r.kind, 'incomplete', `prefix of ${n} bytes`);
      // `needed` is a true lower bound for a valid hello, and never past its end.
      const needed = (r as { needed: number }).needed;
      assert.ok(needed > n && needed <= withBoth.length, `prefix of ${n} bytes: needed ${needed}`);
      for (let m = n; m < needed; m += 1) assert.equal(parseClientHello(withBoth.subarray(0, m)).kind, 'incomplete');
    }
  });

  it('bytes after the ClientHello are not part of it', () => {
    const r = hello(parseClientHello(Buffer.concat([withBoth, Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01])])));
    assert.equal(r.length, withBoth.length);
    assert.equal(r.serverName, 'Shop.Example.test');
  });

  it('a ClientHello split over several handshake records (RFC 8446 §5.1)', () => {
    for (const sizes of [[1], [3], [4], [50, 1, 2], [100, 100]]) {
      const framed = reframe(withBoth, sizes);
      const r = hello(parseClientHello(framed));
      assert.equal(r.serverName, 'Shop.Example.test', `fragments ${sizes.join(',')}`);
      assert.deepEqual(r.alpnProtocols, ['h2', 'acme-tls/1', 'http/1.1']);
      assert.equal(r.length, framed.length);
      for (let n = 0; n < framed.length; n += 1) assert.equal(parseClientHello(framed.subarray(0, n)).kind, 'incomplete');
    }
  });

  it('plain HTTP and garbage are invalid from the first byte', () => {
    assert.deepEqual(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')), { kind: 'invalid', reason: 'not a TLS handshake record' });
    assert.deepEqual(parseClientHello(Buffer.from([0x47])), { kind: 'invalid', reason: 'not a TLS handshake record' });
    assert.deepEqual(parseClientHello(Buffer.from([0x80, 0x2e, 0x01])), { kind: 'invalid', reason: 'not a TLS handshake record' }); // SSLv2 framing
    assert.deepEqual(parseClientHello(Buffer.from([0x16, 0x02])), { kind: 'invalid', reason: 'not a TLS record version' });
    assert.deepEqual(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])), { kind: 'invalid', reason: 'bad TLS record length' });
    assert.deepEqual(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01])), { kind: 'invalid', reason: 'bad TLS record length' });
    // A ServerHello (type 2) where a ClientHello should be: refused at its first handshake byte.
    assert.deepEqual(parseClientHello(Buffer.from([0x16, 0x03, 0x03, 0x00, 0x30, 0x02])), {
      kind: 'invalid',
      reason: 'first handshake message is not a ClientHello',
    });
    // A second record that is not a handshake record, before the message is whole.
    const split = reframe(withBoth, [10]);
    const alert = Buffer.concat([split.subarray(0, 15), Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])]);
    assert.deepEqual(parseClientHello(alert), { kind: 'invalid', reason: 'not a TLS handshake record' });
  });

  it('a ClientHello larger than maxBytes is refused without waiting for it', () => {
    assert.deepEqual(parseClientHello(withBoth.subarray(0, 5), 100), { kind: 'invalid', reason: 'ClientHello too large' });
    const big = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x10, 0x01, 0x01, 0x00, 0x00]); // handshake claims 64 KiB
    assert.deepEqual(parseClientHello(big), { kind: 'invalid', reason: 'ClientHello too large' });
  });

  it('corrupted lengths inside the ClientHello are invalid', () => {
    // Grow the extensions block length by one: it no longer ends where the message ends.
    const r = hello(parseClientHello(withBoth));
    assert.equal(r.kind, 'hello');
    const sidLen = withBoth[5 + 4 + 2 + 32]!;
    const suitesAt = 5 + 4 + 2 + 32 + 1 + sidLen;
    const compAt = suitesAt + 2 + withBoth.readUInt16BE(suitesAt);
    const extAt = compAt + 1 + withBoth[compAt]!;
    const bad = Buffer.from(withBoth);
    bad.writeUInt16BE(withBoth.readUInt16BE(extAt) + 1, extAt);
    assert.deepEqual(parseClientHello(bad), { kind: 'invalid', reason: 'bad extensions length' });
    const badSuites = Buffer.from(withBoth);
    badSuites.writeUInt16BE(1, suitesAt); // odd cipher_suites length
    assert.deepEqual(parseClientHello(badSuites), { kind: 'invalid', reason: 'bad cipher_suites' });
  });

  it('hand-made ClientHellos: duplicate extensions, empty names, bad ALPN and SNI lists', () => {
    const ok = hello(parseClientHello(handmadeHello([sniExt('x.test'), alpnExt(['acme-tls/1'])])));
    assert.equal(ok.serverName, 'x.test');
    assert.deepEqual(ok.alpnProtocols, ['acme-tls/1']);
    assert.deepEqual(parseClientHello(handmadeHello([alpnExt(['h2']), alpnExt(['acme-tls/1'])])), { kind: 'invalid', reason: 'duplicate extension' });
    assert.deepEqual(parseClientHello(handmadeHello([alpnExt(['acme-tls/1', ''])])), { kind: 'invalid', reason: 'bad ALPN protocol name' });
    assert.deepEqual(parseClientHello(handmadeHello([[16, Buffer.from([0, 0])]])), { kind: 'invalid', reason: 'bad ALPN extension' });
    assert.deepEqual(parseClientHello(handmadeHello([sniExt('')])), { kind: 'invalid', reason: 'empty host_name' });
    const twoNames = Buffer.concat([Buffer.from([0]), u16(1), Buffer.from('a'), Buffer.from([0]), u16(1), Buffer.from('b')]);
    assert.deepEqual(parseClientHello(handmadeHello([[0, Buffer.concat([u16(twoNames.length), twoNames])]])), { kind: 'invalid', reason: 'two host_name entries' });
    // An unknown name type is skipped (RFC 6066 §3).
    const other = Buffer.concat([Buffer.from([7]), u16(1), Buffer.from('z'), Buffer.from([0]), u16(6), Buffer.from('y.test')]);
    assert.equal(hello(parseClientHello(handmadeHello([[0, Buffer.concat([u16(other.length), other])]]))).serverName, 'y.test');
    // Unknown extensions are skipped; no extensions at all is a TLS 1.2 ClientHello without SNI/ALPN.
    assert.deepEqual(hello(parseClientHello(handmadeHello([[0xfe0d, Buffer.from([1, 2, 3])], alpnExt(['h2'])]))).alpnProtocols, ['h2']);
    const noExt = handmadeHello([]);
    const trimmed = Buffer.concat([noExt.subarray(0, noExt.length - 2)]);
    trimmed.writeUInt16BE(trimmed.length - 5, 3);
    trimmed.writeUIntBE(trimmed.length - 9, 6, 3);
    assert.deepEqual(parseClientHello(trimmed), { kind: 'hello', serverName: undefined, alpnProtocols: [], length: trimmed.length });
  });

  it('random corruption and random bytes never throw', () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const kinds = new Set<string>();
    for (let i = 0; i < 3000; i += 1) {
      const m = Buffer.from(withBoth);
      for (let j = 0; j <= rand(4); j += 1) m[rand(m.length)] = rand(256);
      const r = parseClientHello(m.subarray(0, rand(m.length + 1)));
      kinds.add(r.kind);
      assert.ok(['hello', 'incomplete', 'invalid'].includes(r.kind));
      const junk = Buffer.alloc(rand(600));
      for (let j = 0; j < junk.length; j += 1) junk[j] = rand(256);
      if (junk.length > 0 && rand(2) === 0) junk[0] = 0x16;
      assert.ok(['hello', 'incomplete', 'invalid'].includes(parseClientHello(junk).kind));
    }
    assert.deepEqual([...kinds].sort(), ['hello', 'incomplete', 'invalid']);
  });
});
