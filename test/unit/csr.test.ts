/**
 * Unit tests of src/crypto/csr.ts: for every key type the CSR is parsed back by `openssl req -verify`
 * (signature, SANs, CN rule) and by forge.asn1 (the SubjectPublicKeyInfo is the key's). Needs openssl.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import forge from 'node-forge';

import { KEY_TYPES } from '../../src/crypto/key-type.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { createCsr } from '../../src/crypto/csr.js';

function opensslReq(pem: string): { text: string; verified: boolean } {
  const r = spawnSync('openssl', ['req', '-in', '-', '-noout', '-text', '-verify'], { input: pem, encoding: 'utf8' });
  const all = `${r.stdout}\n${r.stderr}`;
  return { text: r.stdout, verified: r.status === 0 && /verify OK/i.test(all) && !/verify failure/i.test(all) };
}

function sanLine(text: string): string {
  const m = /X509v3 Subject Alternative Name:\s*\n\s*(.*)\n/.exec(text);
  return m?.[1]?.trim() ?? '';
}

function subjectLine(text: string): string {
  return /^\s*Subject:(.*)$/m.exec(text)?.[1]?.trim() ?? '<none>';
}

const LONG_FIRST = `${'a'.repeat(60)}.${'b'.repeat(10)}.example.test`; // > 64 characters

describe('createCsr', () => {
  for (const kt of KEY_TYPES) {
    it(`builds a verifiable CSR with ${kt}`, async () => {
      const { privateKey } = await generateKeyPair(kt);

      const names = ['example.test', 'www.example.test', '*.example.test'];
      const { der, pem } = createCsr({ privateKey, names });
      assert.match(pem, /^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+\n-----END CERTIFICATE REQUEST-----\n$/);
      assert.deepEqual(Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64'), der);

      const short = opensslReq(pem);
      assert.ok(short.verified, 'signature verifies');
      assert.equal(subjectLine(short.text), 'CN = example.test');
      assert.equal(sanLine(short.text), 'DNS:example.test, DNS:www.example.test, DNS:*.example.test');

      // SubjectPublicKeyInfo is exactly the key's SPKI
      const csrAsn1 = forge.asn1.fromDer(der.toString('binary'));
      const info = (csrAsn1.value as forge.asn1.Asn1[])[0];
      assert.ok(info);
      const spki = (info.value as forge.asn1.Asn1[])[2];
      assert.ok(spki);
      const spkiDer = Buffer.from(forge.asn1.toDer(spki).getBytes(), 'binary');
      assert.deepEqual(spkiDer, createPublicKey(privateKey).export({ type: 'spki', format: 'der' }));

      // a first name longer than 64 characters: empty subject, still in the SAN
      assert.ok(LONG_FIRST.length > 64);
      const long = opensslReq(createCsr({ privateKey, names: [LONG_FIRST, 'example.test'] }).pem);
      assert.ok(long.verified, 'signature verifies (long name)');
      assert.doesNotMatch(long.text, /CN\s*=/);
      assert.equal(sanLine(long.text), `DNS:${LONG_FIRST}, DNS:example.test`);
    });
  }

  it('encodes IP literals as iPAddress', async () => {
    const { privateKey } = await generateKeyPair('ec256');
    const { pem, der } = createCsr({ privateKey, names: ['192.0.2.1', '2001:db8::1', '::ffff:198.51.100.7', 'example.test'] });
    const r = opensslReq(pem);
    assert.ok(r.verified);
    assert.equal(
      sanLine(r.text),
      'IP Address:192.0.2.1, IP Address:2001:DB8:0:0:0:0:0:1, IP Address:0:0:0:0:0:FFFF:C633:6407, DNS:example.test',
    );
    // raw bytes: 4 and 16 octets under tag [7]
    const bin = der.toString('binary');
    assert.ok(bin.includes('\x87\x04\xc0\x00\x02\x01'));
    assert.ok(bin.includes('\x87\x10\x20\x01\x0d\xb8' + '\x00'.repeat(11) + '\x01'));
  });

  it('refuses an empty name list', async () => {
    const { privateKey } = await generateKeyPair('ec256');
    assert.throws(() => createCsr({ privateKey, names: [] }), { code: 'ERR_INVALID_DOMAIN' });
  });
});
