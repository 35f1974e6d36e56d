/**
 * Unit tests of CertificateCache behind a real `https.createServer({ SNICallback })`: SNI lookup,
 * wildcard fallback, and a hot swap that changes new handshakes but not open connections.
 * Certificates are self-signed by the openssl CLI; no ACME server is involved.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { CertificateCache } from '../../src/tls/certificate-cache.js';
import { selfSigned } from '../support/self-signed.js';


function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

function open(port: number, servername: string, ca: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, servername, ca }, () => resolve(sock));
    sock.once('error', reject);
  });
}

describe('CertificateCache', () => {
  let dir: string;
  let a1: { certPem: string; keyPem: string };
  let a2: { certPem: string; keyPem: string };
  let w: { certPem: string; keyPem: string };
  const cache = new CertificateCache();
  let server: Server;
  let port: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'leec-certcache-'));
    a1 = selfSigned(dir, 'a1', 'a.test');
    a2 = selfSigned(dir, 'a2', 'a.test');
    w = selfSigned(dir, 'w', '*.w.test');
    server = createServer({ SNICallback: cache.sniCallback });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    rmSync(dir, { recursive: true, force: true });
  });

  it('get: exact, case-insensitive, one-label wildcard; names and delete', () => {
    const c = new CertificateCache();
    c.set(['A.test'], { fullchainPem: a1.certPem, keyPem: a1.keyPem });
    c.set(['*.w.test'], { fullchainPem: w.certPem, keyPem: w.keyPem });
    assert.ok(c.get('a.TEST') !== undefined);
    assert.ok(c.get('x.w.test') !== undefined);
    assert.equal(c.get('w.test'), undefined);
    assert.equal(c.get('y.x.w.test'), undefined);
    assert.equal(c.get('b.test'), undefined);
    assert.deepEqual(c.names(), ['*.w.test', 'a.test']);
    c.delete(['a.test']);
    assert.equal(c.get('a.test'), undefined);
    let called = false;
    c.sniCallback('unknown.test', (err, ctx) => {
      called = true;
      assert.equal(err, null);
      assert.equal(ctx, undefined);
    });
    assert.ok(called);
  });

  it('rejects a mismatched certificate/key without changing the entry', () => {
    const c = new CertificateCache();
    c.set(['a.test'], { fullchainPem: a1.certPem, keyPem: a1.keyPem });
    const before = c.get('a.test');
    assert.throws(() => c.set(['a.test'], { fullchainPem: a1.certPem, keyPem: a2.keyPem }));
    assert.equal(c.get('a.test'), before);
  });

  it('a checked pair gets its context at the first get, one for all its names, then the same one', () => {
    const c = new CertificateCache();
    c.set(['a.test', 'www.a.test'], { fullchainPem: a1.certPem, keyPem: a1.keyPem }, { checked: true });
    const first = c.get('www.a.test');
    assert.ok(first);
    assert.equal(c.get('a.test'), first);
    assert.equal(c.get('A.TEST.'), first);
    assert.deepEqual(c.names(), ['a.test', 'www.a.test']);
  });

  it('a checked pair that TLS cannot use fails at its first get, typed; its names go back to what it replaced', () => {
    const c = new CertificateCache();
    c.set(['a.test'], { fullchainPem: a1.certPem, keyPem: a1.keyPem });
    const good = c.get('a.test');
    c.set(['a.test', 'b.test'], { fullchainPem: a1.certPem, keyPem: a2.keyPem }, { checked: true });
    assert.throws(() => c.get('b.test'), { code: 'ERR_INVALID_OPTION' });
    assert.equal(c.get('a.test'), good, 'the previous certificate is served again');
    assert.equal(c.get('b.test'), undefined, 'a name that had none before has none again');
    assert.deepEqual(c.names(), ['a.test']);
    const fresh = new CertificateCache();
    fresh.set(['x.test'], { fullchainPem: a1.certPem, keyPem: a2.keyPem }, { checked: true });
    assert.throws(() => fresh.get('x.test'), { code: 'ERR_INVALID_OPTION' });
    assert.deepEqual(fresh.names(), [], 'nothing to go back to: dropped');
    let failed: Error | null = null;
    c.set(['c.test'], { fullchainPem: a1.certPem, keyPem: a2.keyPem }, { checked: true });
    c.sniCallback('c.test', (err) => {
      failed = err;
    });
    assert.ok(failed !== null, 'the handshake for it gets the error');
  });

  it('hot swap: new handshakes see the new cert, open connections keep the old', async () => {
    cache.set(['a.test'], { fullchainPem: a1.certPem, keyPem: a1.keyPem });
    const first = await open(port, 'a.test', a1.certPem);
    try {
      assert.equal(first.getPeerCertificate().fingerprint256, fingerprint(a1.certPem));

      cache.set(['a.test'], { fullchainPem: a2.certPem, keyPem: a2.keyPem });
      const second = await open(port, 'a.test', a2.certPem);
      try {
        assert.equal(second.getPeerCertificate().fingerprint256, fingerprint(a2.certPem));
      } finally {
        second.destroy();
      }
      assert.notEqual(fingerprint(a1.certPem), fingerprint(a2.certPem));
      assert.ok(!first.destroyed);
      assert.equal(first.getPeerCertificate().fingerprint256, fingerprint(a1.certPem));
    } finally {
      first.destroy();
    }
  });

  it('serves a wildcard entry over TLS', async () => {
    cache.set(['*.w.test'], { fullchainPem: w.certPem, keyPem: w.keyPem });
    const s = await open(port, 'x.w.test', w.certPem);
    try {
      assert.equal(s.getPeerCertificate().fingerprint256, fingerprint(w.certPem));
    } finally {
      s.destroy();
    }
  });

  it('fails the handshake for an unknown name when there is no default cert', async () => {
    await assert.rejects(open(port, 'unknown.test', a1.certPem));
  });
});
