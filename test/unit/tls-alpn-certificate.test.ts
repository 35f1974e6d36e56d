/**
 * The tls-alpn-01 challenge certificate (RFC 8737 §3, RFC 8738 §6), read back with node:crypto, with
 * openssl and with an independent DER walk; and the TlsAlpn01Store's input checks and SNI-name keys.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type forge from 'node-forge';
import { asn1 } from '../../src/crypto/forge-asn1.js';
import { createTlsAlpnCertificate } from '../../src/crypto/tls-alpn-certificate.js';
import { ErrorCode, InvalidInputError } from '../../src/errors.js';
import { TlsAlpn01Store, tlsAlpnServerName } from '../../src/responder/tls-alpn01-store.js';
import { caught } from '../support/caught.js';
import { selfSigned } from '../support/self-signed.js';

const KEY_AUTH = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI';

/** The extensions of a DER certificate: OID → { critical, value (extnValue bytes) }, walked with forge.asn1. */
function extensionsOf(pem: string): Map<string, { critical: boolean; value: Buffer }> {
  const der = new X509Certificate(pem).raw;
  const cert = asn1.fromDer(der.toString('binary'));
  const tbs = (cert.value as forge.asn1.Asn1[])[0]!;
  const tagged = (tbs.value as forge.asn1.Asn1[]).find((n) => n.tagClass === asn1.Class.CONTEXT_SPECIFIC && n.type === 3)!;
  const out = new Map<string, { critical: boolean; value: Buffer }>();
  for (const ext of ((tagged.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[])) {
    const parts = ext.value as forge.asn1.Asn1[];
    const oid = asn1.derToOid(parts[0]!.value as string);
    const critical = parts.length === 3 && parts[1]!.value === '\xff';
    out.set(oid, { critical, value: Buffer.from(parts[parts.length - 1]!.value as string, 'binary') });
  }
  return out;
}

function withTempFile<T>(content: string, fn: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'leec-alpn-cert-'));
  try {
    const file = join(dir, 'cert.pem');
    writeFileSync(file, content);
    return fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('createTlsAlpnCertificate', () => {
  it('a DNS identifier: one dNSName, critical acmeIdentifier = DER OCTET STRING of SHA-256(keyAuthorization)', async () => {
    const { certPem, keyPem } = await createTlsAlpnCertificate({ identifier: 'Shop.Example.test', keyAuthorization: KEY_AUTH });
    const x509 = new X509Certificate(certPem);
    assert.equal(x509.subjectAltName, 'DNS:shop.example.test');
    assert.equal(x509.subject, x509.issuer); // self-signed
    assert.equal(x509.verify(x509.publicKey), true);
    const key = createPrivateKey(keyPem);
    assert.equal(x509.checkPrivateKey(key), true);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const from = Date.parse(x509.validFrom);
    const to = Date.parse(x509.validTo);
    assert.ok(from <= Date.now() && to > Date.now());
    assert.ok(to - from <= 3 * 24 * 3600 * 1000, 'short validity');

    const digest = createHash('sha256').update(KEY_AUTH).digest();
    const exts = extensionsOf(certPem);
    assert.deepEqual([...exts.keys()].sort(), ['1.3.6.1.5.5.7.1.31', '2.5.29.17']);
    const acme = exts.get('1.3.6.1.5.5.7.1.31')!;
    assert.equal(acme.critical, true);
    assert.deepEqual(acme.value, Buffer.concat([Buffer.from([0x04, 0x20]), digest]));

    withTempFile(certPem, (file) => {
      const text = execFileSync('openssl', ['x509', '-in', file, '-noout', '-text'], { encoding: 'utf8' });
      assert.match(text, /Version: 3 \(0x2\)/);
      assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
      assert.match(text, /X509v3 Subject Alternative Name: *\n\s+DNS:shop\.example\.test\n/);
      assert.match(text, /1\.3\.6\.1\.5\.5\.7\.1\.31: critical/);
      // openssl's own DER walk: OID, BOOLEAN TRUE, then the extnValue bytes.
      const parsed = execFileSync('openssl', ['asn1parse', '-in', file], { encoding: 'utf8' }).split('\n');
      const at = parsed.findIndex((l) => l.includes(':1.3.6.1.5.5.7.1.31'));
      assert.ok(at > 0);
      assert.match(parsed[at + 1]!, /BOOLEAN\s+:255/);
      assert.ok(parsed[at + 2]!.endsWith(`[HEX DUMP]:0420${digest.toString('hex').toUpperCase()}`), parsed[at + 2]);
      // The critical extension is unknown to ordinary X.509 software, which must refuse the certificate.
      const verify = spawnSync('openssl', ['verify', '-CAfile', file, file], { encoding: 'utf8' });
      assert.notEqual(verify.status, 0);
      assert.match(verify.stdout + verify.stderr, /unhandled critical extension/);
    });
  });

  it('an IPv4 identifier gets an iPAddress SAN (RFC 8738 §6)', async () => {
    const { certPem } = await createTlsAlpnCertificate({ identifier: '127.0.0.1', keyAuthorization: KEY_AUTH });
    assert.equal(new X509Certificate(certPem).subjectAltName, 'IP Address:127.0.0.1');
    assert.equal(new X509Certificate(certPem).checkIP('127.0.0.1'), '127.0.0.1');
    withTempFile(certPem, (file) => {
      assert.match(execFileSync('openssl', ['x509', '-in', file, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' }), /IP Address:127\.0\.0\.1\n/);
    });
  });

  it('an IPv6 identifier, compressed or bracketed, gets its 16 bytes', async () => {
    for (const identifier of ['2001:db8::1', '[2001:db8::1]']) {
      const { certPem } = await createTlsAlpnCertificate({ identifier, keyAuthorization: KEY_AUTH });
      const x509 = new X509Certificate(certPem);
      assert.equal(x509.checkIP('2001:db8::1'), '2001:db8::1');
      const san = extensionsOf(certPem).get('2.5.29.17')!.value;
      // SEQUENCE { [7] 16 bytes }
      assert.equal(san.toString('hex'), '3012' + '8710' + '20010db8000000000000000000000001');
    }
  });

  it('two certificates for the same challenge have different keys and serials', async () => {
    const a = await createTlsAlpnCertificate({ identifier: 'a.test', keyAuthorization: KEY_AUTH });
    const b = await createTlsAlpnCertificate({ identifier: 'a.test', keyAuthorization: KEY_AUTH });
    assert.notEqual(a.keyPem, b.keyPem);
    assert.notEqual(new X509Certificate(a.certPem).serialNumber, new X509Certificate(b.certPem).serialNumber);
  });

  it('bad input is a typed error', async () => {
    const cases: Array<[Parameters<typeof createTlsAlpnCertificate>[0], string]> = [
      [{ identifier: '', keyAuthorization: KEY_AUTH }, ErrorCode.invalidDomain],
      [{ identifier: 'a..test', keyAuthorization: KEY_AUTH }, ErrorCode.invalidDomain],
      [{ identifier: 'a b.test', keyAuthorization: KEY_AUTH }, ErrorCode.invalidDomain],
      [{ identifier: '-a.test', keyAuthorization: KEY_AUTH }, ErrorCode.invalidDomain],
      [{ identifier: `${'a'.repeat(64)}.test`, keyAuthorization: KEY_AUTH }, ErrorCode.invalidDomain],
      [{ identifier: 'fe80::1%eth0', keyAuthorization: KEY_AUTH }, ErrorCode.invalidDomain],
      [{ identifier: '*.a.test', keyAuthorization: KEY_AUTH }, ErrorCode.wildcardNeedsDns01],
      [{ identifier: 'a.test', keyAuthorization: '' }, ErrorCode.invalidOption],
      [{ identifier: 'a.test', keyAuthorization: KEY_AUTH, validityMs: 0 }, ErrorCode.invalidOption],
      [{ identifier: 42 as unknown as string, keyAuthorization: KEY_AUTH }, ErrorCode.invalidDomain],
    ];
    for (const [input, code] of cases) {
      const err = await caught(createTlsAlpnCertificate(input), InvalidInputError);
      assert.equal(err.code, code, JSON.stringify(input));
      assert.equal(err.step, 'challenge');
      assert.ok(!err.message.includes(KEY_AUTH));
    }
  });
});

describe('TlsAlpn01Store', () => {
  it('tlsAlpnServerName: DNS names lowercased, IPs as reverse-DNS names (RFC 8738 §6, RFC 3596 §2.5)', () => {
    assert.equal(tlsAlpnServerName('Shop.Example.TEST.'), 'shop.example.test');
    assert.equal(tlsAlpnServerName('127.0.0.1'), '1.0.0.127.in-addr.arpa');
    assert.equal(tlsAlpnServerName('192.0.2.10'), '10.2.0.192.in-addr.arpa');
    // RFC 3596 §2.5's example address.
    assert.equal(tlsAlpnServerName('4321:0:1:2:3:4:567:89ab'), 'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa');
    assert.equal(tlsAlpnServerName('[::1]'), `1.${'0.'.repeat(31)}ip6.arpa`);
    assert.equal(tlsAlpnServerName('::ffff:192.0.2.1'), `1.0.2.0.0.0.0.c.f.f.f.f.${'0.'.repeat(20)}ip6.arpa`);
    for (const bad of ['', 'a..b', 'a b', '*.a.test', 'fe80::1%eth0', 'x'.repeat(64)]) assert.equal(tlsAlpnServerName(bad), '', bad);
  });

  it('present, get by SNI name or identifier, replace, cleanup', async () => {
    const store = new TlsAlpn01Store();
    const a = await createTlsAlpnCertificate({ identifier: 'a.test', keyAuthorization: KEY_AUTH });
    const ip = await createTlsAlpnCertificate({ identifier: '127.0.0.1', keyAuthorization: KEY_AUTH });
    const ip6 = await createTlsAlpnCertificate({ identifier: '::1', keyAuthorization: KEY_AUTH });
    store.present({ host: 'A.Test', ...a });
    store.present({ host: '127.0.0.1', ...ip });
    store.present({ host: '[::1]', ...ip6 });
    assert.equal(store.size, 3);
    assert.deepEqual(store.serverNames().sort(), [`1.${'0.'.repeat(31)}ip6.arpa`, '1.0.0.127.in-addr.arpa', 'a.test']);
    assert.equal(store.get('a.test.')?.certPem, a.certPem);
    assert.equal(store.get('A.TEST')?.keyPem, a.keyPem);
    assert.equal(store.get('1.0.0.127.in-addr.arpa')?.certPem, ip.certPem);
    assert.equal(store.get('127.0.0.1')?.host, '127.0.0.1');
    assert.equal(store.get(`1.${'0.'.repeat(31)}ip6.arpa`)?.host, '::1');
    assert.equal(store.get('b.test'), undefined);
    assert.equal(store.get(''), undefined);

    // A newer challenge for the same host replaces the older; a late cleanup of the older keeps it.
    const a2 = await createTlsAlpnCertificate({ identifier: 'a.test', keyAuthorization: 'other.thumb' });
    store.present({ host: 'a.test', ...a2 });
    assert.equal(store.get('a.test')?.certPem, a2.certPem);
    store.cleanup({ host: 'a.test', certPem: a.certPem });
    assert.equal(store.get('a.test')?.certPem, a2.certPem);
    store.cleanup({ host: 'A.test' });
    assert.equal(store.get('a.test'), undefined);
    store.cleanup({ host: '127.0.0.1' });
    store.cleanup({ host: 'never.test' });
    assert.equal(store.size, 1);
  });

  it('refuses a certificate for another host, a foreign key, a plain certificate and garbage', async () => {
    const store = new TlsAlpn01Store();
    const a = await createTlsAlpnCertificate({ identifier: 'a.test', keyAuthorization: KEY_AUTH });
    const b = await createTlsAlpnCertificate({ identifier: 'b.test', keyAuthorization: KEY_AUTH });
    const ip = await createTlsAlpnCertificate({ identifier: '127.0.0.2', keyAuthorization: KEY_AUTH });
    const dir = mkdtempSync(join(tmpdir(), 'leec-alpn-store-'));
    const plain = selfSigned(dir, 'plain', 'a.test');
    rmSync(dir, { recursive: true, force: true });
    const cases: Array<[unknown, string]> = [
      [{ host: 'b.test', ...a }, ErrorCode.invalidOption],
      [{ host: '127.0.0.1', ...ip }, ErrorCode.invalidOption],
      [{ host: 'a.test', certPem: a.certPem, keyPem: b.keyPem }, ErrorCode.keyMismatch],
      [{ host: 'a.test', certPem: a.certPem, keyPem: 'not a key' }, ErrorCode.keyMismatch],
      [{ host: 'a.test', ...plain }, ErrorCode.invalidOption],
      [{ host: 'a.test', certPem: 'garbage', keyPem: a.keyPem }, ErrorCode.invalidOption],
      [{ host: 'a.test', certPem: '', keyPem: a.keyPem }, ErrorCode.invalidOption],
      [{ host: 'a.test', certPem: a.certPem }, ErrorCode.invalidOption],
      [{ host: '*.a.test', ...a }, ErrorCode.wildcardNeedsDns01],
      [{ host: 'not a host', ...a }, ErrorCode.invalidDomain],
      [{ host: '', ...a }, ErrorCode.invalidDomain],
      [null, ErrorCode.invalidOption],
    ];
    for (const [input, code] of cases) {
      const err = await caught(Promise.resolve().then(() => store.present(input as never)), InvalidInputError);
      assert.equal(err.code, code, JSON.stringify(input)?.slice(0, 80));
      assert.ok(!err.message.includes('PRIVATE KEY') && !JSON.stringify(err.data).includes('PRIVATE KEY'));
    }
    assert.equal(store.size, 0);
  });
});
