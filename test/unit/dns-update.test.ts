/**
 * The RFC 2136 UPDATE messages (exact bytes, and the same records BIND's own `nsupdate` sends), the SOA
 * query, name checks, and the response parser's defences (compression pointers, loops, short data).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildSoaQuery, buildTxtUpdate, isTxtValue, zoneFromSoaResponse } from '../../src/dns/dns-update.js';
import { isInZone, normalizeName, parseMessage, readName, RRClass, RRType, type WireMessage } from '../../src/dns/dns-wire.js';
import { DnsError } from '../../src/errors.js';
import { captureFirstDatagram } from '../support/bind-server.js';

const CHANGE = { zone: 'example.test.', fqdn: '_acme-challenge.example.test.', value: 'abc', ttl: 60 };

/** The update section as comparable data: owner, type, class, TTL and RDATA hex. */
function updates(m: WireMessage): Array<[string, number, number, number, string]> {
  return m.authority.map((r) => [r.name, r.type, r.klass, r.ttl, m.raw.subarray(r.rdataStart, r.rdataStart + r.rdataLength).toString('hex')]);
}

describe('RFC 2136 UPDATE messages', () => {
  it('add: header opcode UPDATE, zone section SOA/IN, one TXT RR of class IN with the TTL (§2.5.1)', () => {
    const hex = buildTxtUpdate('add', CHANGE, 0x0ff9).toString('hex');
    assert.equal(
      hex,
      '0ff9' + '2800' + '0001' + '0000' + '0001' + '0000' + // ID, opcode 5, ZO=1, PR=0, UP=1, AD=0
        '076578616d706c65047465737400' + '0006' + '0001' + // example.test. SOA IN
        '0f5f61636d652d6368616c6c656e6765076578616d706c65047465737400' + '0010' + '0001' + '0000003c' + '0004' + '03616263',
    );
  });

  it('delete: the same RR with class NONE and TTL 0, deleting that value only (§2.5.4), never class ANY', () => {
    const m = parseMessage(buildTxtUpdate('delete', CHANGE, 7));
    assert.deepEqual(updates(m), [['_acme-challenge.example.test.', RRType.TXT, RRClass.NONE, 0, '03616263']]);
    assert.deepEqual(m.questions, [{ name: 'example.test.', type: RRType.SOA, klass: RRClass.IN }]);
    assert.equal(m.header.opcode, 5);
  });

  it('carries the same update records as nsupdate for "update delete" and "update add"', async (t) => {
    const got = await captureFirstDatagram(
      'nsupdate',
      [],
      'server 127.0.0.1 PORT\nzone example.test\nupdate delete _acme-challenge.example.test. TXT "abc"\nupdate add _acme-challenge.example.test. 60 TXT "abc"\nsend\n',
    );
    if (got === null) return t.skip('nsupdate (bind9-dnsutils) is not installed');
    const theirs = parseMessage(got);
    const del = parseMessage(buildTxtUpdate('delete', CHANGE, 1));
    const add = parseMessage(buildTxtUpdate('add', CHANGE, 1));
    assert.deepEqual(theirs.questions, del.questions);
    assert.equal(theirs.header.opcode, 5);
    assert.deepEqual(updates(theirs), [...updates(del), ...updates(add)]);
  });

  it('SOA query: opcode QUERY, one question, no recursion desired', () => {
    const b = buildSoaQuery('_acme-challenge.a.example.test.', 0x0102);
    assert.equal(b.toString('hex').slice(0, 24), '010200000001000000000000');
    const m = parseMessage(b);
    assert.deepEqual(m.questions, [{ name: '_acme-challenge.a.example.test.', type: RRType.SOA, klass: RRClass.IN }]);
  });

  it('the zone is the owner of the SOA in the answer or the authority section', () => {
    const soa = (section: 'an' | 'ns'): Buffer => {
      const q = buildSoaQuery('_acme-challenge.example.test.', 1);
      // Response: the question, then one SOA record owned by example.test. (pointer into the question).
      const rr = Buffer.concat([Buffer.from([0xc0, 12 + 16]), Buffer.from('000600010000003c0000', 'hex')]);
      const out = Buffer.concat([q, rr]);
      out.writeUInt16BE(0x8400, 2);
      out.writeUInt16BE(section === 'an' ? 1 : 0, 6);
      out.writeUInt16BE(section === 'ns' ? 1 : 0, 8);
      return out;
    };
    assert.equal(zoneFromSoaResponse(parseMessage(soa('an'))), 'example.test.');
    assert.equal(zoneFromSoaResponse(parseMessage(soa('ns'))), 'example.test.');
    assert.equal(zoneFromSoaResponse(parseMessage(buildSoaQuery('x.test.', 1))), undefined);
  });
});

describe('names and values', () => {
  it('normalizeName lowercases, makes absolute, and refuses what an update cannot carry', () => {
    assert.equal(normalizeName('_ACME-Challenge.Example.TEST'), '_acme-challenge.example.test.');
    assert.equal(normalizeName('example.test.'), 'example.test.');
    for (const bad of ['', '.', 'a..b', '-a.test', 'a b.test', 'a\\.b', 'é.test', `${'a'.repeat(64)}.test`, `${'a.'.repeat(127)}test`]) {
      assert.equal(normalizeName(bad), null, bad);
    }
    assert.equal(isInZone('_acme-challenge.example.test.', 'example.test.'), true);
    assert.equal(isInZone('example.test.', 'example.test.'), true);
    assert.equal(isInZone('badexample.test.', 'example.test.'), false);
  });

  it('a TXT value is one character-string: 1-255 printable ASCII bytes', () => {
    assert.equal(isTxtValue('x'.repeat(255)), true);
    assert.equal(isTxtValue('x'.repeat(256)), false);
    assert.equal(isTxtValue(''), false);
    assert.equal(isTxtValue('a\nb'), false);
    assert.equal(isTxtValue('é'), false);
  });
});

describe('response parsing defences', () => {
  it('follows compression pointers and refuses loops, forward runs and truncation', () => {
    const buf = Buffer.from('03616263000161c000', 'hex'); // "abc." at 0, "a" + pointer to 0 at 5
    assert.deepEqual(readName(buf, 5), { name: 'a.abc.', next: 9 });
    assert.throws(() => readName(Buffer.from('c000', 'hex'), 0), (e: unknown) => e instanceof DnsError && e.data['reason'] === 'malformedResponse');
    assert.throws(() => readName(Buffer.from('0561', 'hex'), 0), DnsError);
    assert.throws(() => parseMessage(Buffer.alloc(5)), DnsError);
    const q = buildSoaQuery('example.test.', 1);
    q.writeUInt16BE(1, 6); // claims an answer that is not there
    assert.throws(() => parseMessage(q), DnsError);
  });
});
