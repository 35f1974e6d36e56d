/**
 * The tls-alpn-01 responder (src/responder/tls-alpn01.ts) with real TLS clients on 127.0.0.1: the
 * standalone listener (challenge certificate and ALPN for acme-tls/1, the fallback server otherwise, a
 * handshake failure for unknown names, bounded handling of garbage and silent clients) and the hook on a
 * user's own https.Server (real GETs keep working on the same port, detach restores it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { createTlsAlpnCertificate, type TlsAlpnCertificate } from '../../src/crypto/tls-alpn-certificate.js';
import { ErrorCode, InvalidInputError, LeecError } from '../../src/errors.js';
import { freePort } from '../../src/net/free-port.js';
import { TlsAlpn01Store } from '../../src/responder/tls-alpn01-store.js';
import { createTlsAlpn01Hook, listenTlsAlpn01, type TlsAlpn01Listener } from '../../src/responder/tls-alpn01.js';
import { caught } from '../support/caught.js';
import { selfSigned, type Pair } from '../support/self-signed.js';

const ACME = 'acme-tls/1';
const HELLO_TIMEOUT_MS = 300;

interface Outcome {
  secure: boolean;
  fingerprint?: string;
  alpn?: string | false | null;
  error?: string;
  data: string;
  /** Whether the connection was closed (by either side) within the wait. */
  closed: boolean;
  ms: number;
}

/** A TLS client that sends nothing after its handshake and waits for the server to close (at most `waitMs`). */
function tlsTry(port: number, opts: tls.ConnectionOptions, waitMs = 3000): Promise<Outcome> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const out: Outcome = { secure: false, data: '', closed: false, ms: 0 };
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts }, () => {
      out.secure = true;
      out.fingerprint = socket.getPeerX509Certificate()?.fingerprint256;
      out.alpn = socket.alpnProtocol;
    });
    socket.on('data', (d: Buffer) => (out.data += d.toString()));
    socket.on('error', (e: NodeJS.ErrnoException) => (out.error ??= e.code ?? e.message));
    const timer = setTimeout(() => {
      out.ms = Date.now() - t0;
      socket.destroy();
      resolve(out);
    }, waitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      out.closed = true;
      out.ms = Date.now() - t0;
      resolve(out);
    });
  });
}

/** A raw TCP client that writes `bytes` (maybe nothing) and reports when the server closed it. */
function rawTry(port: number, bytes: Buffer | undefined, waitMs = 3000): Promise<{ closed: boolean; ms: number; received: Buffer }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => {
      if (bytes !== undefined) socket.write(bytes);
    });
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closed: false, ms: Date.now() - t0, received: Buffer.concat(received) });
    }, waitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, ms: Date.now() - t0, received: Buffer.concat(received) });
    });
  });
}

function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** The first bytes of a real ClientHello, cut short: a client that stalls mid-hello. */
async function partialClientHello(): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) =>
    server.once('connection', (s) => {
      s.once('data', (d: Buffer) => {
        resolve(d.subarray(0, 40));
        s.destroy();
      });
    }),
  );
  const c = tls.connect({ host: '127.0.0.1', port, servername: 'a.test', ALPNProtocols: [ACME] });
  c.on('error', () => undefined);
  const bytes = await got;
  c.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return bytes;
}

describe('tls-alpn-01 responder', () => {
  let dir: string;
  let fallbackPair: Pair;
  let sitePair: Pair;
  let aCert: TlsAlpnCertificate;
  let ipCert: TlsAlpnCertificate;
  const store = new TlsAlpn01Store();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'leec-alpn-responder-'));
    fallbackPair = selfSigned(dir, 'fallback', 'fallback.test');
    sitePair = selfSigned(dir, 'site', 'site.test');
    aCert = await createTlsAlpnCertificate({ identifier: 'a.test', keyAuthorization: 'token-a.thumb' });
    ipCert = await createTlsAlpnCertificate({ identifier: '127.0.0.1', keyAuthorization: 'token-ip.thumb' });
    store.present({ host: 'a.test', ...aCert });
    store.present({ host: '127.0.0.1', ...ipCert });
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('standalone, with a fallback tls.Server', () => {
    let listener: TlsAlpn01Listener;
    let fallback: tls.Server;
    const served: Array<{ serverName: string; host: string }> = [];

    before(async () => {
      fallback = tls.createServer({ key: fallbackPair.keyPem, cert: fallbackPair.certPem }, (s) => s.end('fallback hello'));
      listener = await listenTlsAlpn01(store, {
        port: await freePort(),
        fallback,
        helloTimeoutMs: HELLO_TIMEOUT_MS,
        onServed: (e) => served.push(e),
      });
    });

    after(() => listener.close());

    it('acme-tls/1 for a live challenge: the challenge certificate, ALPN acme-tls/1, then the server closes', async () => {
      const r = await tlsTry(listener.port, { servername: 'a.test', ALPNProtocols: [ACME] });
      assert.equal(r.secure, true, r.error);
      assert.equal(r.fingerprint, fingerprint(aCert.certPem));
      assert.equal(r.alpn, ACME);
      assert.equal(r.data, '');
      assert.equal(r.closed, true, 'closed by the server after the handshake');
      assert.ok(r.ms < 2500, `closed after ${r.ms} ms`);
      assert.deepEqual(served.at(-1), { serverName: 'a.test', host: 'a.test' });
    });

    it('SNI is case-insensitive; TLS 1.2 works too', async () => {
      const r = await tlsTry(listener.port, { servername: 'A.Test', ALPNProtocols: [ACME], maxVersion: 'TLSv1.2' });
      assert.equal(r.fingerprint, fingerprint(aCert.certPem));
      assert.equal(r.alpn, ACME);
    });

    it('an IP identifier is asked for by its reverse-DNS name (RFC 8738 §6)', async () => {
      const r = await tlsTry(listener.port, { servername: '1.0.0.127.in-addr.arpa', ALPNProtocols: [ACME] });
      assert.equal(r.fingerprint, fingerprint(ipCert.certPem));
      assert.equal(r.alpn, ACME);
      assert.deepEqual(served.at(-1), { serverName: '1.0.0.127.in-addr.arpa', host: '127.0.0.1' });
    });

    it('without acme-tls/1 (no ALPN, or other protocols) the fallback answers, even for a challenged name', async () => {
      for (const opts of [{ servername: 'a.test' }, { servername: 'a.test', ALPNProtocols: ['h2', 'http/1.1'] }, {}]) {
        const r = await tlsTry(listener.port, opts);
        assert.equal(r.secure, true, r.error);
        assert.equal(r.fingerprint, fingerprint(fallbackPair.certPem), JSON.stringify(opts));
        assert.equal(r.alpn, false);
        assert.equal(r.data, 'fallback hello');
      }
    });

    it('acme-tls/1 for a name without a challenge, or without SNI: handshake failure, no certificate', async () => {
      const before = served.length;
      for (const opts of [{ servername: 'b.test', ALPNProtocols: [ACME] }, { ALPNProtocols: [ACME] }, { servername: 'fallback.test', ALPNProtocols: ['h2', ACME] }]) {
        const r = await tlsTry(listener.port, opts);
        assert.equal(r.secure, false, JSON.stringify(opts));
        assert.equal(r.fingerprint, undefined);
        assert.equal(r.error, 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE');
      }
      assert.equal(served.length, before);
    });

    it('garbage, a silent client and a stalled ClientHello are closed within a bound; the next client is served', async () => {
      const garbage = await rawTry(listener.port, Buffer.from('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n'));
      assert.equal(garbage.closed, true);
      assert.ok(garbage.ms < 2000, `garbage closed after ${garbage.ms} ms`);
      const random = await rawTry(listener.port, Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00, 0xff, 0xff]));
      assert.equal(random.closed, true);

      const silent = await rawTry(listener.port, undefined);
      assert.equal(silent.closed, true);
      assert.ok(silent.ms >= HELLO_TIMEOUT_MS - 50 && silent.ms < HELLO_TIMEOUT_MS + 1500, `silent client closed after ${silent.ms} ms`);
      assert.equal(silent.received.length, 0);

      const stalled = await rawTry(listener.port, await partialClientHello());
      assert.equal(stalled.closed, true);
      assert.ok(stalled.ms < HELLO_TIMEOUT_MS + 1500, `stalled client closed after ${stalled.ms} ms`);
      assert.equal(stalled.received.length, 0, 'nothing sent to a client whose ClientHello never completed');

      const next = await tlsTry(listener.port, { servername: 'a.test', ALPNProtocols: [ACME] });
      assert.equal(next.fingerprint, fingerprint(aCert.certPem));
    });

    it('a ClientHello trickling in small TCP segments is still answered', async () => {
      // A relay that forwards the client's bytes to the responder 40 at a time, 10 ms apart.
      const relay = net.createServer((down) => {
        const up = net.connect(listener.port, '127.0.0.1');
        up.setNoDelay(true);
        up.on('error', () => down.destroy());
        down.on('error', () => up.destroy());
        let queue = Promise.resolve();
        down.on('data', (d: Buffer) => {
          for (let i = 0; i < d.length; i += 40) {
            const piece = d.subarray(i, i + 40);
            queue = queue.then(() => new Promise((r) => setTimeout(() => up.write(piece, () => r()), 10)));
          }
        });
        up.pipe(down);
        down.on('close', () => up.destroy());
      });
      await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
      try {
        const r = await tlsTry((relay.address() as net.AddressInfo).port, { servername: 'a.test', ALPNProtocols: [ACME] }, 5000);
        assert.equal(r.fingerprint, fingerprint(aCert.certPem), r.error);
        assert.equal(r.alpn, ACME);
      } finally {
        await new Promise<void>((resolve) => relay.close(() => resolve()));
      }
    });

    it('many concurrent challenge and fallback connections are all answered', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => tlsTry(listener.port, i % 2 === 0 ? { servername: 'a.test', ALPNProtocols: [ACME] } : { servername: 'x.test' })),
      );
      results.forEach((r, i) => assert.equal(r.fingerprint, fingerprint(i % 2 === 0 ? aCert.certPem : fallbackPair.certPem)));
    });

    it('a live challenge removed from the store is no longer served', async () => {
      const tmp = await createTlsAlpnCertificate({ identifier: 'tmp.test', keyAuthorization: 'k.t' });
      store.present({ host: 'tmp.test', ...tmp });
      assert.equal((await tlsTry(listener.port, { servername: 'tmp.test', ALPNProtocols: [ACME] })).fingerprint, fingerprint(tmp.certPem));
      store.cleanup({ host: 'tmp.test' });
      const r = await tlsTry(listener.port, { servername: 'tmp.test', ALPNProtocols: [ACME] });
      assert.equal(r.error, 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE');
    });
  });

  describe('standalone, other cases', () => {
    it('without a fallback, other connections are closed; a function fallback gets the socket with its ClientHello', async () => {
      const bare = await listenTlsAlpn01(store, { port: await freePort(), helloTimeoutMs: HELLO_TIMEOUT_MS });
      try {
        const r = await tlsTry(bare.port, { servername: 'a.test' });
        assert.equal(r.secure, false);
        assert.equal(r.closed, true);
        assert.equal((await tlsTry(bare.port, { servername: 'a.test', ALPNProtocols: [ACME] })).fingerprint, fingerprint(aCert.certPem));
      } finally {
        await bare.close();
      }

      let firstBytes: Buffer | undefined;
      const fn = await listenTlsAlpn01(store, {
        port: await freePort(),
        fallback: (socket) => {
          firstBytes = socket.read() as Buffer | null ?? undefined;
          socket.destroy();
        },
      });
      try {
        const r = await tlsTry(fn.port, { servername: 'b.test', ALPNProtocols: ['h2'] });
        assert.equal(r.secure, false);
        assert.ok(firstBytes !== undefined);
        assert.equal(firstBytes[0], 0x16); // the unshifted ClientHello record
        assert.ok(firstBytes.includes(Buffer.from('b.test')));
      } finally {
        await fn.close();
      }
    });

    it('close() ends open connections and the listener; a taken port is ERR_LISTEN; bad options are refused', async () => {
      const slowFallback = tls.createServer({ key: fallbackPair.keyPem, cert: fallbackPair.certPem }, () => undefined); // never answers
      const l = await listenTlsAlpn01(store, { port: await freePort(), fallback: slowFallback });
      const open = tlsTry(l.port, { servername: 'x.test' }, 5000);
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      await l.close();
      const r = await open;
      assert.equal(r.secure, true);
      assert.equal(r.closed, true);
      assert.ok(Date.now() - t0 < 1000);
      assert.deepEqual(await l.closed, {});
      const refused = await rawTry(l.port, undefined, 1000);
      assert.equal(refused.closed, true);
      assert.ok(refused.ms < 500);

      const blocker = net.createServer();
      const port = await freePort();
      await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
      try {
        const err = await caught(listenTlsAlpn01(store, { port }), LeecError);
        assert.equal(err.code, ErrorCode.listen);
        assert.equal(err.data['cause'], 'EADDRINUSE');
      } finally {
        await new Promise<void>((resolve) => blocker.close(() => resolve()));
      }

      for (const opts of [{ port: -1 }, { port: 1.5 }, { port: 0, host: 'localhost' }, { port: 0, helloTimeoutMs: 0 }, { port: 0, fallback: {} as tls.Server }]) {
        const e = await caught(listenTlsAlpn01(store, opts), InvalidInputError);
        assert.equal(e.code, ErrorCode.invalidOption, JSON.stringify(opts));
      }
      assert.equal((await caught(listenTlsAlpn01({} as TlsAlpn01Store, { port: 0 }), InvalidInputError)).code, ErrorCode.invalidOption);
    });
  });

  describe('embedded hook on a user https.Server', () => {
    let server: https.Server;
    let port: number;
    let detach: () => void;
    const tlsErrors: string[] = [];

    /** A real HTTPS GET that trusts only the site's certificate. */
    function get(path: string, agent: https.Agent | false = false): Promise<{ status: number; body: string; localPort: number }> {
      return new Promise((resolve, reject) => {
        const req = https.get({ host: '127.0.0.1', port, path, servername: 'site.test', ca: sitePair.certPem, agent }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          const localPort = res.socket.localPort ?? 0;
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, localPort }));
        });
        req.on('error', reject);
      });
    }

    before(async () => {
      server = https.createServer({ key: sitePair.keyPem, cert: sitePair.certPem }, (req, res) => res.end(`hello ${req.url}`));
      server.on('tlsClientError', (e: NodeJS.ErrnoException) => tlsErrors.push(e.code ?? e.message));
      detach = createTlsAlpn01Hook(store, { helloTimeoutMs: HELLO_TIMEOUT_MS }).attach(server);
      port = await freePort();
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    });

    after(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('real HTTPS GETs keep working, keep-alive included', async () => {
      assert.deepEqual(await get('/x').then((r) => [r.status, r.body]), [200, 'hello /x']);
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const one = await get('/one', agent);
        const two = await get('/two', agent);
        assert.deepEqual([one.body, two.body], ['hello /one', 'hello /two']);
        assert.equal(one.localPort, two.localPort, 'the second request reused the connection');
      } finally {
        agent.destroy();
      }
    });

    it('acme-tls/1 on the same port gets the challenge certificate; an unknown name fails the handshake', async () => {
      const r = await tlsTry(port, { servername: 'a.test', ALPNProtocols: [ACME] });
      assert.equal(r.fingerprint, fingerprint(aCert.certPem));
      assert.equal(r.alpn, ACME);
      assert.equal(r.closed, true);
      const unknown = await tlsTry(port, { servername: 'site.test', ALPNProtocols: [ACME] });
      assert.equal(unknown.secure, false);
      assert.equal(unknown.error, 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE');
      // A normal TLS client of the site, challenged name or not, gets the site's certificate.
      const normal = await tlsTry(port, { servername: 'a.test', ALPNProtocols: ['http/1.1'] }, 300);
      assert.equal(normal.fingerprint, fingerprint(sitePair.certPem));
    });

    it('plain HTTP and silent clients are handed to the server, which still serves the next GET', async () => {
      const plain = await rawTry(port, Buffer.from('GET / HTTP/1.1\r\nHost: site.test\r\n\r\n'));
      assert.equal(plain.closed, true);
      assert.ok(plain.ms < 2000);
      assert.ok(tlsErrors.length > 0, 'the https server saw the bad client itself');
      const silent = rawTry(port, undefined, HELLO_TIMEOUT_MS + 500);
      assert.deepEqual(await get('/after').then((r) => r.body), 'hello /after');
      assert.equal((await silent).closed, false, 'the server (handshakeTimeout 120 s) keeps a silent client once handed over');
    });

    it('attach refuses a second hook and a non-TLS server; detach gives the server back', async () => {
      assert.equal(caughtSync(() => createTlsAlpn01Hook(store).attach(server)).code, ErrorCode.invalidOption);
      assert.equal(caughtSync(() => createTlsAlpn01Hook(store).attach(http.createServer() as unknown as tls.Server)).code, ErrorCode.invalidOption);
      detach();
      detach(); // idempotent
      // (an https.Server negotiates http/1.1 and refuses a client offering only acme-tls/1)
      const r = await tlsTry(port, { servername: 'a.test', ALPNProtocols: [ACME, 'http/1.1'] }, 300);
      assert.equal(r.fingerprint, fingerprint(sitePair.certPem), 'no challenge answered once detached');
      assert.equal(r.alpn, 'http/1.1');
      assert.equal((await get('/detached')).body, 'hello /detached');
      assert.equal(server.listeners('connection').length, 1);
      // And it can be attached again.
      detach = createTlsAlpn01Hook(store).attach(server);
      assert.equal((await tlsTry(port, { servername: 'a.test', ALPNProtocols: [ACME] })).fingerprint, fingerprint(aCert.certPem));
    });
  });
});

function caughtSync(fn: () => unknown): InvalidInputError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof InvalidInputError, String(e));
    return e;
  }
  assert.fail('expected an InvalidInputError');
}
