/**
 * Unit tests of src/crypto/certificate.ts against self-signed certificates made by `openssl req -x509`
 * in a temporary directory. Needs openssl; touches nothing outside the temp dir.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { ErrorCode, ProtocolError } from '../../src/errors.js';
import { certificateMatchesKey, describeCertificate, splitPemChain } from '../../src/crypto/certificate.js';

interface Made {
  cert: string;
  key: string;
}

describe('certificate', () => {
  let dir = '';
  let ec: Made = { cert: '', key: '' };
  let rsa: Made = { cert: '', key: '' };

  function make(name: string, keyArgs: string[], subj: string, san: string): Made {
    const keyPath = join(dir, `${name}.key`);
    const certPath = join(dir, `${name}.crt`);
    execFileSync(
      'openssl',
      ['req', '-x509', ...keyArgs, '-nodes', '-keyout', keyPath, '-out', certPath, '-subj', subj, '-days', '30', '-addext', `subjectAltName=${san}`],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'leec-cert-'));
    ec = make('ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], '/CN=example.test', 'DNS:example.test,DNS:www.example.test,IP:192.0.2.1,IP:2001:db8::1');
    rsa = make('rsa', ['-newkey', 'rsa:2048'], '/CN=other.test', 'DNS:other.test');
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('describes a certificate', () => {
    const info = describeCertificate(ec.cert);
    assert.equal(info.subject, 'CN=example.test');
    assert.equal(info.issuer, 'CN=example.test');
    assert.deepEqual(info.names, ['example.test', 'www.example.test', '192.0.2.1', '2001:db8::1']);
    assert.equal(info.keyType, 'ec256');
    assert.ok(info.notBefore instanceof Date && !Number.isNaN(info.notBefore.getTime()));
    const days = (info.notAfter.getTime() - info.notBefore.getTime()) / 86_400_000;
    assert.ok(Math.abs(days - 30) < 1, `validity ${days} days`);
    assert.match(info.serialNumber, /^[0-9A-F]+$/);
    assert.match(info.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(describeCertificate(rsa.cert).keyType, 'rsa2048');
  });

  it('splits a chain and normalises each block', () => {
    const messy = `junk before\r\n${ec.cert.replace(/\n/g, '\r\n')}\r\n\r\n${rsa.cert.trimEnd()}   trailing`;
    const parts = splitPemChain(messy);
    assert.equal(parts.length, 2);
    assert.equal(parts[0], ec.cert);
    assert.equal(parts[1], rsa.cert);
    for (const p of parts) assert.ok(p.endsWith('-----END CERTIFICATE-----\n'));
    assert.equal(describeCertificate(parts[1] ?? '').subject, 'CN=other.test');
  });

  it('throws ProtocolError at step download when there is no certificate', () => {
    for (const bad of ['', 'not a pem', ec.key]) {
      assert.throws(() => splitPemChain(bad), (e: unknown) => {
        assert.ok(e instanceof ProtocolError);
        assert.equal(e.code, ErrorCode.protocol);
        assert.equal(e.step, 'download');
        return true;
      });
    }
  });

  it('matches a certificate to its key', () => {
    assert.equal(certificateMatchesKey(ec.cert, ec.key), true);
    assert.equal(certificateMatchesKey(rsa.cert, rsa.key), true);
    assert.equal(certificateMatchesKey(ec.cert, rsa.key), false);
    assert.equal(certificateMatchesKey(rsa.cert, ec.key), false);
  });
});
