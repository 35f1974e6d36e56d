/**
 * Pebble in harsher or special settings: 50% bad nonces, authorization reuse, the three responder modes
 * (standalone is the default elsewhere; here embedded in a user's server and webroot), hot-swapped
 * certificates in a user's https server, throwaway accounts, and the shared account reused across runs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { startHarness, opensslVerify, sanNames, type Harness } from '../support/pebble-harness.js';
import { ChallengeFailedError, ErrorCode, StoreError } from '../../src/errors.js';

function listen(server: http.Server | https.Server, port = 0): Promise<number> {
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

function close(server: http.Server | https.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Opens a TLS connection trusting only `ca`; resolves once verified, with the served certificate's serial. */
function handshake(port: number, servername: string, ca: string): Promise<{ socket: tls.TLSSocket; serial: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca }, () =>
      resolve({ socket, serial: socket.getPeerX509Certificate()!.serialNumber }),
    );
    socket.once('error', reject);
  });
}

/** One HTTP/1.1 request over an already open TLS socket; resolves with the raw response. */
function requestOver(socket: tls.TLSSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    let raw = '';
    socket.on('data', (c: Buffer) => (raw += c.toString()));
    socket.once('end', () => resolve(raw));
    socket.once('error', reject);
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  });
}

describe('PEBBLE_WFE_NONCEREJECT=50', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ PEBBLE_WFE_NONCEREJECT: '50' });
  });
  after(async () => h.close());

  it('issues all of ten certificates in parallel', async () => {
    const sup = await h.supervisor({ maxConcurrentAgents: 10 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => sup.obtainCertificate(`nonce-${i}.example.test`)));
    const failed = results.filter((r) => r.status === 'rejected');
    assert.deepEqual(failed, []);
    for (const r of results) {
      if (r.status !== 'fulfilled') continue;
      assert.match(opensslVerify(h.rootPem, readFileSync(r.value.paths.chain, 'utf8'), readFileSync(r.value.paths.cert, 'utf8')), /: OK$/);
    }
  });
});

describe('PEBBLE_AUTHZREUSE=100', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ PEBBLE_AUTHZREUSE: '100' });
  });
  after(async () => h.close());

  it('a second order for a validated name answers no challenge', async () => {
    const sup = await h.supervisor();
    const presented: string[] = [];
    sup.on('challenge:presented', (e) => presented.push(e.host));
    const first = await sup.obtainCertificate('reuse.example.test');
    assert.equal(first.challengesAnswered, 1);
    assert.deepEqual(presented, ['reuse.example.test']);
    const second = await sup.obtainCertificate('reuse.example.test');
    assert.equal(second.challengesAnswered, 0);
    assert.deepEqual(presented, ['reuse.example.test'], 'no token published for the reused authorization');
    assert.match(opensslVerify(h.rootPem, readFileSync(second.paths.chain, 'utf8'), readFileSync(second.paths.cert, 'utf8')), /: OK$/);
    assert.notEqual(new X509Certificate(readFileSync(second.paths.cert)).serialNumber, new X509Certificate(first.fullchainPem.split('-----END CERTIFICATE-----')[0] + '-----END CERTIFICATE-----\n').serialNumber);
  });
});

describe('embedding in a user’s servers', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  it('serves http-01 through the user’s http server and hot-swaps certificates in its https server', async () => {
    const sup = await h.supervisor({ http01: { mode: 'embedded' } });
    // The user's plain-HTTP server: leec's handler first, the app's own routes after.
    const app = http.createServer((req, res) => {
      if (sup.http01.handle(req, res)) return;
      res.end('app');
    });
    await listen(app, h.httpPort);
    const site = https.createServer({ SNICallback: sup.certificates.sniCallback }, (_req, res) => res.end('hello'));
    const sitePort = await listen(site);
    const sockets: tls.TLSSocket[] = [];
    try {
      const first = await sup.obtainCertificate('embed.example.test', { sans: ['www.embed.example.test'] });
      const firstSerial = new X509Certificate(readFileSync(first.paths.cert)).serialNumber;
      const old = await handshake(sitePort, 'www.embed.example.test', h.rootPem);
      sockets.push(old.socket);
      assert.equal(old.socket.authorized, true);
      assert.equal(old.serial, firstSerial);

      const second = await sup.obtainCertificate('embed.example.test', { sans: ['www.embed.example.test'] });
      const secondSerial = new X509Certificate(readFileSync(second.paths.cert)).serialNumber;
      assert.notEqual(secondSerial, firstSerial);
      const fresh = await handshake(sitePort, 'embed.example.test', h.rootPem);
      sockets.push(fresh.socket);
      assert.equal(fresh.serial, secondSerial, 'new handshakes get the new certificate');
      const freshWww = await handshake(sitePort, 'www.embed.example.test', h.rootPem);
      sockets.push(freshWww.socket);
      assert.equal(freshWww.serial, secondSerial, 'every name of the certificate is swapped');
      // The connection opened before the swap still works, on the certificate it was opened with.
      assert.match(await requestOver(old.socket), /^HTTP\/1\.1 200[\s\S]*hello$/);
      // The app's own routes still answer.
      const body = await new Promise<string>((resolve, reject) =>
        http.get({ host: '127.0.0.1', port: h.httpPort, path: '/' }, (res) => {
          let b = '';
          res.on('data', (c) => (b += c));
          res.on('end', () => resolve(b));
        }).on('error', reject),
      );
      assert.equal(body, 'app');
    } finally {
      for (const s of sockets) s.destroy();
      await close(site);
      await close(app);
    }
  });

  it('a challenge the CA cannot validate fails with a typed error naming the name, and the token is withdrawn', async () => {
    // Embedded mode with no server on the validator's port: Pebble's connection is refused.
    const sup = await h.supervisor({ http01: { mode: 'embedded' } });
    const presented: string[] = [];
    sup.on('challenge:presented', (e) => presented.push(e.token));
    const failures: string[] = [];
    sup.on('failure', (e) => failures.push(e.error.code));
    await assert.rejects(sup.obtainCertificate('unreachable.example.test'), (e: unknown) => {
      assert.ok(e instanceof ChallengeFailedError, String(e));
      assert.equal(e.code, ErrorCode.challengeFailed);
      assert.equal(e.step, 'challenge');
      assert.equal(e.data.identifier, 'unreachable.example.test');
      assert.match(e.problem?.type ?? '', /^urn:ietf:params:acme:error:(connection|unauthorized)$/);
      return true;
    });
    assert.equal(presented.length, 1, 'the token was published before the challenge was answered');
    assert.equal(sup.challenges.size, 0, 'and withdrawn after the failure');
    assert.deepEqual(failures, [ErrorCode.challengeFailed]);
  });

  it('writes tokens to a webroot that another server serves', async () => {
    const webroot = mkdtempSync(join(tmpdir(), 'leec-webroot-'));
    const sup = await h.supervisor({ http01: { mode: 'webroot', webroot } });
    const seen: string[] = [];
    const files = http.createServer((req, res) => {
      const token = (req.url ?? '').split('/').pop() ?? '';
      try {
        const body = readFileSync(join(webroot, '.well-known/acme-challenge', token));
        seen.push(token);
        res.end(body);
      } catch {
        res.statusCode = 404;
        res.end();
      }
    });
    await listen(files, h.httpPort);
    try {
      const r = await sup.obtainCertificate('webroot.example.test');
      assert.deepEqual(sanNames(readFileSync(r.paths.cert, 'utf8')), ['webroot.example.test']);
      assert.ok(seen.length >= 1, 'the CA fetched the token file');
      assert.deepEqual(readdirSync(join(webroot, '.well-known/acme-challenge')), [], 'token files removed afterwards');
    } finally {
      await close(files);
      rmSync(webroot, { recursive: true, force: true });
    }
  });
});

describe('accounts', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  it('keeps one account per store, key 0600, reused by the next supervisor', async () => {
    const shared = join(h.storeDir, 'shared');
    const a = await h.supervisor({ storeDir: shared });
    const url = a.accountUrl;
    assert.match(url ?? '', /^https:\/\/127\.0\.0\.1:\d+\//);
    await a.shutdown();
    const accountsRoot = join(shared, 'accounts');
    const keyFiles: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name.endsWith('.key')) keyFiles.push(join(d, e.name));
      }
    };
    walk(accountsRoot);
    assert.equal(keyFiles.length, 1);
    assert.equal(statSync(keyFiles[0]!).mode & 0o777, 0o600);
    // Two supervisors on one store at once: one gets it, the other is refused with a typed error.
    const both = await Promise.allSettled([1, 2].map(() => h.supervisor({ storeDir: shared, http01: { mode: 'embedded' } })));
    const won = both.filter((r) => r.status === 'fulfilled');
    const lost = both.filter((r) => r.status === 'rejected');
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    const reason = (lost[0] as PromiseRejectedResult).reason as unknown;
    assert.ok(reason instanceof StoreError && reason.code === ErrorCode.storeLocked, String(reason));
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<Harness['supervisor']>>>).value.shutdown();
    const b = await h.supervisor({ storeDir: shared, http01: { mode: 'standalone', port: h.httpPort } });
    assert.equal(b.accountUrl, url);
    const r = await b.obtainCertificate('account.example.test');
    assert.equal(r.reused, false);
    await b.shutdown();
  });

  it('throwaway mode registers an account per agent (LEEC’s behaviour) and still issues', async () => {
    const sup = await h.supervisor({ accountMode: 'throwaway' });
    assert.equal(sup.accountUrl, undefined);
    const results = await Promise.all(['tw-1.example.test', 'tw-2.example.test'].map((d) => sup.obtainCertificate(d)));
    for (const r of results) assert.deepEqual(sanNames(readFileSync(r.paths.cert, 'utf8')), [r.domain]);
  });
});
