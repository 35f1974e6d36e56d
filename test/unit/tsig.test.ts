/**
 * TSIG (RFC 8945): the request MAC is byte for byte what BIND's `dig -y` computes (§4.3.3), and response
 * verification (§5.3, §5.4) accepts a correctly signed answer and names each way one can be wrong.
 * The responses here are signed by an independent implementation of §4.3.3 written in this file.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { buildSoaQuery } from '../../src/dns/dns-update.js';
import { encodeName, parseMessage, RRType } from '../../src/dns/dns-wire.js';
import { findTsig, signRequest, verifyResponse, type TsigAlgorithm, type TsigKey } from '../../src/dns/tsig.js';
import { captureFirstDatagram } from '../support/bind-server.js';

const SECRET = Buffer.from('0123456789abcdef0123456789abcdef', 'utf8');
const KEY: TsigKey = { name: 'acme-key.', algorithm: 'hmac-sha256', secret: SECRET };
const NOW = 1_700_000_000;

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

function u48(v: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(v, 0, 6);
  return b;
}

/** A server's signed response to `requestMac`, per RFC 8945 §4.3.3 (independent of src/dns/tsig.ts). */
function signedResponse(
  body: Buffer,
  o: { key?: TsigKey; requestMac: Buffer; time?: number; error?: number; macOverride?: Buffer; originalId?: number },
): Buffer {
  const key = o.key ?? KEY;
  const time = o.time ?? NOW;
  const error = o.error ?? 0;
  const alg = encodeName(`${key.algorithm}.`);
  const vars = Buffer.concat([encodeName(key.name), u16(255), Buffer.alloc(4), alg, u48(time), u16(300), u16(error), u16(0)]);
  const hash = { 'hmac-sha256': 'sha256', 'hmac-sha512': 'sha512', 'hmac-sha1': 'sha1' }[key.algorithm];
  const mac =
    o.macOverride ??
    createHmac(hash, key.secret).update(Buffer.concat([u16(o.requestMac.length), o.requestMac, body, vars])).digest();
  const rdata = Buffer.concat([alg, u48(time), u16(300), u16(mac.length), mac, u16(o.originalId ?? body.readUInt16BE(0)), u16(error), u16(0)]);
  const rr = Buffer.concat([encodeName(key.name), u16(RRType.TSIG), u16(255), Buffer.alloc(4), u16(rdata.length), rdata]);
  const out = Buffer.concat([body, rr]);
  out.writeUInt16BE(body.readUInt16BE(10) + 1, 10);
  return out;
}

/** A NOERROR response header + question for a request (no records). */
function responseBody(request: Buffer): Buffer {
  const qEnd = 12 + request.subarray(12).indexOf(0) + 1 + 4;
  const body = Buffer.from(request.subarray(0, qEnd));
  body.writeUInt16BE(0x8400, 2); // QR, AA, NOERROR
  body.writeUInt16BE(0, 10);
  return body;
}

describe('TSIG request signing (RFC 8945 §4.3.3)', () => {
  for (const alg of ['hmac-sha256', 'hmac-sha512', 'hmac-sha1'] as TsigAlgorithm[]) {
    it(`${alg}: the signed query is byte for byte what dig -y sends`, async (t) => {
      const secret = Buffer.alloc(alg === 'hmac-sha512' ? 64 : 32, 7);
      const dig = await captureFirstDatagram('dig', [
        '-y', `${alg}:acme-key:${secret.toString('base64')}`, '@127.0.0.1', '-p', 'PORT', '+tries=1', '+timeout=1', 'Example.Test', 'SOA',
      ]);
      if (dig === null) return t.skip('dig (bind9-dnsutils) is not installed');
      const parsed = parseMessage(dig);
      const tsig = findTsig(parsed);
      assert.ok(tsig !== null && typeof tsig === 'object', 'dig signed its query');
      const unsigned = Buffer.from(dig.subarray(0, tsig.start));
      unsigned.writeUInt16BE(parsed.header.counts[3] - 1, 10);
      const ours = signRequest(unsigned, { name: 'acme-key.', algorithm: alg, secret }, tsig.timeSigned, tsig.fudge);
      assert.equal(ours.message.toString('hex'), dig.toString('hex'));
      assert.equal(ours.mac.length, { 'hmac-sha256': 32, 'hmac-sha512': 64, 'hmac-sha1': 20 }[alg]);
    });
  }

  it('appends one TSIG RR (class ANY, TTL 0) as the last additional record and counts it', () => {
    const q = buildSoaQuery('_acme-challenge.example.test.', 0x1234);
    const s = signRequest(q, KEY, NOW);
    const m = parseMessage(s.message);
    assert.equal(m.header.counts[3], 1);
    const rr = m.additional[0]!;
    assert.deepEqual([rr.name, rr.type, rr.klass, rr.ttl], ['acme-key.', RRType.TSIG, 255, 0]);
    const t = findTsig(m);
    assert.ok(t !== null && typeof t === 'object');
    assert.deepEqual([t.algorithm, t.timeSigned, t.fudge, t.originalId, t.error], ['hmac-sha256.', NOW, 300, 0x1234, 0]);
    assert.ok(t.mac.equals(s.mac));
  });
});

describe('TSIG response verification (RFC 8945 §5.3, §5.4)', () => {
  const request = signRequest(buildSoaQuery('example.test.', 0xbeef), KEY, NOW);
  const body = responseBody(request.message);

  it('accepts a response signed over the request MAC, the response and the TSIG variables', () => {
    const res = signedResponse(body, { requestMac: request.mac });
    assert.deepEqual(verifyResponse(parseMessage(res), KEY, request, NOW + 10), { ok: true });
  });

  it('uses the Original ID, not the header ID, in the digest (§4.3.3)', () => {
    const res = signedResponse(body, { requestMac: request.mac });
    // A forwarder may have changed the header ID; the TSIG Original ID still holds the signed one.
    res.writeUInt16BE(0x0001, 0);
    assert.deepEqual(verifyResponse(parseMessage(res), KEY, request, NOW), { ok: true });
  });

  it('a changed byte, another request MAC or another secret is BADSIG', () => {
    const res = signedResponse(body, { requestMac: request.mac });
    res[3] = 0x85; // rcode REFUSED instead of NOERROR
    assert.equal((verifyResponse(parseMessage(res), KEY, request, NOW) as { tsigError: string }).tsigError, 'BADSIG');
    const other = signedResponse(body, { requestMac: Buffer.alloc(32, 1) });
    assert.equal((verifyResponse(parseMessage(other), KEY, request, NOW) as { tsigError: string }).tsigError, 'BADSIG');
    const wrongSecret = signedResponse(body, { requestMac: request.mac, key: { ...KEY, secret: Buffer.alloc(32) } });
    assert.deepEqual(verifyResponse(parseMessage(wrongSecret), KEY, request, NOW), {
      ok: false,
      tsigError: 'BADSIG',
      by: 'client',
      detail: 'the response MAC does not verify',
    });
  });

  it('another key name or algorithm is BADKEY; a short MAC is BADTRUNC; a stale time is BADTIME', () => {
    const otherName = signedResponse(body, { requestMac: request.mac, key: { ...KEY, name: 'other-key.' } });
    assert.equal((verifyResponse(parseMessage(otherName), KEY, request, NOW) as { tsigError: string }).tsigError, 'BADKEY');
    const otherAlg = signedResponse(body, { requestMac: request.mac, key: { ...KEY, algorithm: 'hmac-sha512' } });
    assert.equal((verifyResponse(parseMessage(otherAlg), KEY, request, NOW) as { tsigError: string }).tsigError, 'BADKEY');
    const short = signedResponse(body, { requestMac: request.mac, macOverride: Buffer.alloc(16) });
    assert.equal((verifyResponse(parseMessage(short), KEY, request, NOW) as { tsigError: string }).tsigError, 'BADTRUNC');
    const res = signedResponse(body, { requestMac: request.mac, time: NOW });
    assert.equal((verifyResponse(parseMessage(res), KEY, request, NOW + 301) as { tsigError: string }).tsigError, 'BADTIME');
    assert.deepEqual(verifyResponse(parseMessage(res), KEY, request, NOW - 300), { ok: true });
  });

  it("the server's own TSIG error is reported as the server's (BADSIG, BADKEY, BADTIME)", () => {
    for (const [code, name] of [[16, 'BADSIG'], [17, 'BADKEY'], [18, 'BADTIME'], [22, 'BADTRUNC']] as const) {
      const notauth = Buffer.from(body);
      notauth.writeUInt16BE(0x8009, 2); // NOTAUTH
      const res = signedResponse(notauth, { requestMac: request.mac, error: code, macOverride: Buffer.alloc(0) });
      const v = verifyResponse(parseMessage(res), KEY, request, NOW);
      assert.deepEqual(v, { ok: false, tsigError: name, by: 'server', detail: 'the server could not verify the request signature' });
    }
  });

  it('no TSIG is UNSIGNED; a TSIG that is not the last record is FORMERR', () => {
    assert.equal((verifyResponse(parseMessage(body), KEY, request, NOW) as { tsigError: string }).tsigError, 'UNSIGNED');
    const res = signedResponse(body, { requestMac: request.mac });
    // Append an A record after the TSIG RR.
    const extra = Buffer.concat([Buffer.from([0]), u16(RRType.A), u16(1), Buffer.alloc(4), u16(4), Buffer.from([127, 0, 0, 1])]);
    const twisted = Buffer.concat([res, extra]);
    twisted.writeUInt16BE(2, 10);
    assert.equal((verifyResponse(parseMessage(twisted), KEY, request, NOW) as { tsigError: string }).tsigError, 'FORMERR');
  });
});
