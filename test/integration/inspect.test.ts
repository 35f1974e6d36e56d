/**
 * `leec inspect` on a chain Pebble issued: from the stored file and from a live TLS server, verified
 * against Pebble's root; a reversed chain is reported out of order; an untrusted chain does not verify.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { startHarness, type Harness } from '../support/pebble-harness.js';
import { reportChain } from '../../src/crypto/chain-report.js';
import { splitPemChain } from '../../src/crypto/certificate.js';
import type { CertificateResult } from '../../src/certificate-result.js';

const CLI = new URL('../../src/cli/main.js', import.meta.url).pathname;

function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.stderr.on('data', (c) => (out += c));
    p.on('exit', (code) => resolve({ code, out }));
  });
}

describe('leec inspect', () => {
  let h: Harness;
  let cert: CertificateResult;
  let rootFile: string;
  before(async () => {
    h = await startHarness();
    const sup = await h.supervisor();
    cert = await sup.obtainCertificate('inspect.example.test', { sans: ['www.inspect.example.test'] });
    rootFile = join(h.storeDir, 'root.pem');
    writeFileSync(rootFile, h.rootPem);
  });
  after(async () => h.close());

  it('a stored fullchain: names, key, order ok, verifies against Pebble’s root (exit 0)', async () => {
    const r = await cli(['inspect', cert.paths.fullchain, '--ca', rootFile]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /names {8}inspect\.example\.test, www\.inspect\.example\.test/);
    assert.match(r.out, /key {10}EC prime256v1/);
    assert.match(r.out, /chain order  ok/);
    assert.match(r.out, /verifies {5}yes/);
    const serial = new X509Certificate(readFileSync(cert.paths.cert)).serialNumber;
    assert.ok(r.out.includes(serial));
  });

  it('without Pebble’s root it does not verify (exit 1); a reversed chain is out of order', async () => {
    const r = await cli(['inspect', cert.paths.fullchain]);
    assert.equal(r.code, 1);
    assert.match(r.out, /verifies {5}no/);
    const reversed = splitPemChain(cert.fullchainPem).reverse().join('');
    const report = reportChain(reversed, { trustPem: h.rootPem });
    assert.equal(report.inOrder, false);
    assert.equal(report.verified, false);
  });

  it('HOST:PORT reads the chain a live server presents for the SNI name', async () => {
    const server = https.createServer({ cert: cert.fullchainPem, key: readFileSync(cert.paths.privkey) }, (_q, s) => s.end('x'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await cli(['inspect', `127.0.0.1:${port}`, '--servername', 'www.inspect.example.test', '--ca', rootFile]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /certificate 1 \(CA\)/);
      assert.match(r.out, /verifies {5}yes/);
      assert.match(r.out, /^name match {3}yes \(www\.inspect\.example\.test\)$/m);
      // A chain that verifies but is for other names is not a pass, as a TLS client would refuse it.
      const other = await cli(['inspect', `127.0.0.1:${port}`, '--servername', 'other.example.test', '--ca', rootFile]);
      assert.equal(other.code, 1, other.out);
      assert.match(other.out, /verifies {5}yes/);
      assert.match(other.out, /^name match {3}no \(other\.example\.test\)$/m);
    } finally {
      server.close();
    }
  });

  it('a file with no PEM certificate (a key, text), a --ca without one, or a bad port: exit 2, ERR_INVALID_OPTION naming it', async () => {
    const text = join(h.storeDir, 'notes.txt');
    writeFileSync(text, 'not a certificate\n');
    const cases: Array<{ args: string[]; names: string }> = [
      { args: ['inspect', cert.paths.privkey], names: cert.paths.privkey },
      { args: ['inspect', text], names: text },
      { args: ['inspect', cert.paths.fullchain, '--ca', text], names: `--ca ${text}` },
      { args: ['inspect', '127.0.0.1:99999'], names: '127.0.0.1:99999' },
    ];
    for (const c of cases) {
      const r = await cli(c.args);
      assert.equal(r.code, 2, r.out);
      assert.equal(r.out.trim().split('\n').length, 1, r.out);
      assert.ok(r.out.startsWith(`leec: ERR_INVALID_OPTION: ${c.names}`), r.out);
    }
  });
});
