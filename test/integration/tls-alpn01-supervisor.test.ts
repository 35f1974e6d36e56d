/**
 * tls-alpn-01 (RFC 8737) through the whole Supervisor against Pebble: the agent makes the challenge
 * certificate on its worker thread, the main thread's responder presents it to Pebble's validator.
 * Standalone (the supervisor's own TLS listener, which answers plain TLS with the certificates it holds)
 * and embedded (a hook on the user's own https server, which keeps serving its pages on the same port).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { startHarness, sanNames, type Harness } from '../support/pebble-harness.js';

/** GET / over TLS to 127.0.0.1:port with SNI `name`, trusting only `ca`: status, body and the leaf's serial. */
function get(port: number, name: string, ca: string): Promise<{ status: number; body: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, servername: name, headers: { host: name }, ca, agent: false }, (res) => {
      const serial = (res.socket as TLSSocket).getPeerX509Certificate()?.serialNumber ?? '';
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, serial }));
    });
    req.on('error', reject);
  });
}

describe('tls-alpn-01 through the Supervisor and Pebble', { timeout: 120_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  it('standalone: a DNS name and an IP validated on the supervisor’s TLS port, which then serves the certificate', async () => {
    const sup = await h.supervisor({ http01: { mode: 'embedded' }, tlsAlpn01: { mode: 'standalone', port: h.pebble.tlsPort }, challenge: 'tls-alpn-01' });
    try {
      const served: string[] = [];
      sup.on('challenge:served', (e) => served.push(`${e.type} ${e.host}`));
      const r = await sup.obtainCertificate('alpn.example.test', { sans: ['127.0.0.1'] });
      assert.equal(sup.tlsAlpn01Port, h.pebble.tlsPort);
      const leaf = readFileSync(r.paths.cert, 'utf8');
      assert.deepEqual(sanNames(leaf).sort(), ['127.0.0.1', 'alpn.example.test']);
      assert.equal(r.challengesAnswered, 2);
      assert.ok(served.includes('tls-alpn-01 alpn.example.test'), served.join(', '));
      assert.ok(served.includes('tls-alpn-01 127.0.0.1'), served.join(', '));
      // Plain TLS on the same port gets the issued certificate through SNI.
      const res = await get(h.pebble.tlsPort, 'alpn.example.test', h.rootPem);
      assert.equal(res.status, 404);
      assert.equal(res.serial, new X509Certificate(leaf).serialNumber);
    } finally {
      await sup.shutdown();
    }
  });

  it('embedded: the hook on the user’s https server answers acme-tls/1; the user’s pages keep working', async () => {
    const sup = await h.supervisor({ http01: { mode: 'embedded' }, tlsAlpn01: { mode: 'embedded' } });
    const site = https.createServer({ SNICallback: sup.certificates.sniCallback }, (_req, res) => res.end('my site'));
    await new Promise<void>((r) => site.listen(h.pebble.tlsPort, '127.0.0.1', r));
    const detach = sup.tlsAlpn01!.attach(site);
    try {
      assert.equal((site.address() as AddressInfo).port, h.pebble.tlsPort);
      const r = await sup.obtainCertificate('embedded-alpn.example.test', { challenge: 'tls-alpn-01' });
      const leaf = readFileSync(r.paths.cert, 'utf8');
      assert.deepEqual(sanNames(leaf), ['embedded-alpn.example.test']);
      // Recorded with the certificate, so its renewals (also after a restart) use tls-alpn-01 again.
      assert.equal((await sup.store.loadCertificate('embedded-alpn.example.test'))?.meta.challenge, 'tls-alpn-01');
      const res = await get(h.pebble.tlsPort, 'embedded-alpn.example.test', h.rootPem);
      assert.deepEqual(res, { status: 200, body: 'my site', serial: new X509Certificate(leaf).serialNumber });
    } finally {
      detach();
      site.closeAllConnections();
      await new Promise((r) => site.close(r));
      await sup.shutdown();
    }
  });

  it('tls-alpn-01 without the tlsAlpn01 option: refused before any request', async () => {
    const sup = await h.supervisor({ http01: { mode: 'embedded' } });
    try {
      await assert.rejects(sup.obtainCertificate('x.example.test', { challenge: 'tls-alpn-01' }), { code: 'ERR_INVALID_OPTION', step: 'input' });
      await assert.rejects(sup.obtainCertificate('*.x.example.test', { challenge: 'tls-alpn-01' }), { code: 'ERR_WILDCARD_NEEDS_DNS01' });
    } finally {
      await sup.shutdown();
    }
  });
});
