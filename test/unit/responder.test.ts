/**
 * Unit tests of the http-01 responder (RFC 8555 §8.3) over real sockets: the standalone server
 * and a user's own server falling through `handle()`. No ACME server is involved.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ChallengeStore, normalizeHost } from '../../src/responder/challenge-store.js';
import { createHttp01Handler } from '../../src/responder/http01-handler.js';
import { listenHttp01 } from '../../src/responder/standalone.js';
import { InvalidInputError } from '../../src/errors.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, path: string, opts: { method?: string; host?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host: opts.host ?? 'example.test' }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const TOKEN = 'tok_en-123ABC';
const KEY_AUTH = `${TOKEN}.thumbprint_x-Y`;

describe('ChallengeStore', () => {
  it('rejects non-base64url tokens', async () => {
    const store = new ChallengeStore();
    for (const token of ['', '../x', 'a/b', 'a b', '%2e%2e', 'a=']) {
      await assert.rejects(store.present({ host: 'a.test', token, keyAuthorization: 'k' }), InvalidInputError);
    }
    assert.equal(store.size, 0);
  });

  it('normalizes hosts and lists ongoing challenges', async () => {
    const store = new ChallengeStore();
    await store.present({ host: 'Example.Test.', token: TOKEN, keyAuthorization: KEY_AUTH });
    assert.equal(store.get('EXAMPLE.test:5002', TOKEN), KEY_AUTH);
    assert.deepEqual(store.ongoing('example.test'), { [TOKEN]: KEY_AUTH });
    assert.equal(store.size, 1);
    await store.cleanup({ host: 'example.test', token: 'never-presented' });
    await store.cleanup({ host: 'other.test', token: TOKEN });
    assert.equal(store.size, 1);
    await store.cleanup({ host: 'example.test', token: TOKEN });
    assert.equal(store.size, 0);
    assert.deepEqual(store.ongoing('example.test'), {});
  });

  it('strips ports including the IPv6 bracket form', () => {
    assert.equal(normalizeHost('[::1]:80'), '::1');
    assert.equal(normalizeHost('[::1]'), '::1');
    assert.equal(normalizeHost('::1'), '::1');
    assert.equal(normalizeHost('EXAMPLE.test:5002'), 'example.test');
  });
});

describe('standalone http-01 responder', () => {
  const store = new ChallengeStore();
  const served: string[] = [];
  let srv: Awaited<ReturnType<typeof listenHttp01>>;

  before(async () => {
    await store.present({ host: 'example.test', token: TOKEN, keyAuthorization: KEY_AUTH });
    srv = await listenHttp01(store, { port: 0, onServed: (h, t) => served.push(`${h} ${t}`) });
  });
  after(async () => {
    await srv.close();
  });

  it('binds 127.0.0.1 on a free port', () => {
    assert.equal(srv.host, '127.0.0.1');
    assert.ok(srv.port > 0);
  });

  it('serves a known token as text/plain', async () => {
    const r = await get(srv.port, `/.well-known/acme-challenge/${TOKEN}?x=1`);
    assert.equal(r.status, 200);
    assert.equal(r.body, KEY_AUTH);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    assert.ok(served.includes(`example.test ${TOKEN}`));
  });

  it('answers HEAD with 200 and no body', async () => {
    const r = await get(srv.port, `/.well-known/acme-challenge/${TOKEN}`, { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.body, '');
  });

  it('answers POST with 405 and Allow', async () => {
    const r = await get(srv.port, `/.well-known/acme-challenge/${TOKEN}`, { method: 'POST' });
    assert.equal(r.status, 405);
    assert.match(String(r.headers.allow), /GET/);
    assert.match(String(r.headers.allow), /HEAD/);
  });

  it('404s unknown and non-base64url tokens', async () => {
    assert.equal((await get(srv.port, '/.well-known/acme-challenge/unknownToken')).status, 404);
    assert.equal((await get(srv.port, '/.well-known/acme-challenge/a.b')).status, 404);
    assert.equal((await get(srv.port, '/.well-known/acme-challenge/%2e%2e')).status, 404);
    assert.equal((await get(srv.port, `/.well-known/acme-challenge/${TOKEN}/x`)).status, 404);
    assert.equal((await get(srv.port, '/.well-known/acme-challenge/')).status, 404);
  });

  it('matches the Host header case-insensitively without port', async () => {
    const r = await get(srv.port, `/.well-known/acme-challenge/${TOKEN}`, { host: 'EXAMPLE.test:5002' });
    assert.equal(r.status, 200);
    assert.equal(r.body, KEY_AUTH);
  });

  it('404s the right token for the wrong host', async () => {
    const r = await get(srv.port, `/.well-known/acme-challenge/${TOKEN}`, { host: 'other.test' });
    assert.equal(r.status, 404);
    assert.ok(!r.body.includes(KEY_AUTH));
  });

  it('404s other paths', async () => {
    assert.equal((await get(srv.port, '/')).status, 404);
  });

  it('404s after cleanup', async () => {
    const t = 'cleanupToken';
    await store.present({ host: 'example.test', token: t, keyAuthorization: `${t}.x` });
    assert.equal((await get(srv.port, `/.well-known/acme-challenge/${t}`)).status, 200);
    await store.cleanup({ host: 'example.test', token: t });
    assert.equal((await get(srv.port, `/.well-known/acme-challenge/${t}`)).status, 404);
  });
});

describe("handle() inside a user's server", () => {
  const store = new ChallengeStore();
  const handler = createHttp01Handler(store);
  let server: Server;
  let port: number;

  before(async () => {
    await store.present({ host: 'example.test', token: TOKEN, keyAuthorization: KEY_AUTH });
    server = createServer((req, res) => {
      if (handler.handle(req, res)) return;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('app');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  });

  it('falls through for the app route', async () => {
    const r = await get(port, '/hello?a=b');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'app');
  });

  it('serves the challenge', async () => {
    const r = await get(port, `/.well-known/acme-challenge/${TOKEN}`);
    assert.equal(r.status, 200);
    assert.equal(r.body, KEY_AUTH);
  });

  it('middleware calls next() outside the prefix only', async () => {
    const mw = createHttp01Handler(store).middleware;
    const srv2 = createServer((req, res) => {
      mw(req, res, (err) => {
        res.writeHead(err === undefined ? 200 : 500);
        res.end('next');
      });
    });
    await new Promise<void>((resolve) => srv2.listen(0, '127.0.0.1', resolve));
    const p = (srv2.address() as AddressInfo).port;
    try {
      const a = await get(p, '/other');
      assert.equal(a.status, 200);
      assert.equal(a.body, 'next');
      const b = await get(p, `/.well-known/acme-challenge/${TOKEN}`);
      assert.equal(b.body, KEY_AUTH);
      const c = await get(p, '/.well-known/acme-challenge/nope');
      assert.equal(c.status, 404);
    } finally {
      await new Promise<void>((resolve) => {
        srv2.close(() => resolve());
        srv2.closeAllConnections();
      });
    }
  });
});
