/**
 * Bounded retries of connection-level failures, against the scripted fake CA behind a TCP fault proxy
 * (plain HTTP): a reset mid-response, a stall past the timeout, a refused connection. Each retried POST is
 * re-signed over a fresh nonce (RFC 8555 §6.5, §7.2); the last failure is a TransportError with
 * `data.attempts`; an abort during the backoff ends the request at once; a response that started and was
 * then cut is not retried.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { AcmeClient, type AcmeClientOptions } from '../../src/acme/client.js';
import { fetchDirectory } from '../../src/acme/directory.js';
import { toAccountKey } from '../../src/acme/account-key.js';
import { HttpTransport, type TransportOptions } from '../../src/acme/transport.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { AbortedError, TransportError } from '../../src/errors.js';
import { FakeAcmeServer, type Call } from '../support/fake-acme-server.js';
import { FaultProxy, routeHttpAgentsThrough } from '../support/fault-proxy.js';
import { caught } from '../support/caught.js';

const A_TEST = [{ type: 'dns' as const, value: 'a.test' }];
const T = { timeout: 30_000 };

interface Env {
  ca: FakeAcmeServer;
  proxy: FaultProxy;
  transport: HttpTransport;
  client: AcmeClient;
}

/** Fake CA, fault proxy in front (mode pass), transport and client with an account already made. */
async function setup(t: TestContext, o: { transport?: TransportOptions; client?: Partial<AcmeClientOptions> } = {}): Promise<Env> {
  const ca = await FakeAcmeServer.start();
  const caPort = Number(new URL(ca.url).port);
  const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: caPort } });
  const unroute = routeHttpAgentsThrough(caPort, proxy.port);
  const transport = new HttpTransport({ timeoutMs: 10_000, ...o.transport });
  t.after(async () => {
    unroute();
    transport.close();
    await proxy.close();
    await ca.close();
  });
  const directory = await fetchDirectory(transport, ca.directoryUrl);
  const k = await generateKeyPair('ec256');
  const accountKey = await toAccountKey(k.privateKey, k.publicKey, 'ES256');
  const client = new AcmeClient({ directory, transport, accountKey, ...o.client });
  await client.newAccount({ termsOfServiceAgreed: true });
  assert.ok(proxy.stats.connections >= 1, 'the setup went through the proxy');
  return { ca, proxy, transport, client };
}

/** Closes the proxied connections and lets the client's agent notice, so the next request connects anew. */
async function freshConnections(proxy: FaultProxy): Promise<void> {
  proxy.dropConnections();
  await delay(50);
}

/** §6.5 / §7.2: every POST nonce was issued by the CA, is used once, and was never sent before. */
function assertNoncesFresh(calls: Call[]): void {
  const issued = new Set(calls.map((c) => c.issuedNonce).filter((n): n is string => n !== undefined));
  const used = calls.filter((c) => c.method === 'POST').map((c) => c.nonce);
  assert.equal(new Set(used).size, used.length, 'no nonce sent twice');
  for (const n of used) assert.ok(n !== undefined && issued.has(n), `nonce ${String(n)} was issued by the CA`);
}

describe('transport retries behind a fault proxy', () => {
  for (const k of [1, 2]) {
    it(`reset on the newOrder response ${k}x, then pass: order created, ${k + 1} connections, fresh nonce per retry`, T, async (t) => {
      const { ca, proxy, client } = await setup(t);
      await freshConnections(proxy);
      const conns = proxy.stats.connections;
      const before = ca.calls.length;
      proxy.next(k, 'reset-mid-response');

      const t0 = performance.now();
      const order = await client.newOrder(A_TEST);
      const took = performance.now() - t0;

      assert.equal(order.status, 'pending');
      assert.equal(proxy.stats.connections - conns, k + 1);
      assert.equal(proxy.stats.resets, k);
      const calls = ca.calls.slice(before);
      // The first newOrder reached the CA (its 201 was cut by the reset); resets after that hit the GET
      // newNonce that fetches a fresh nonce for the retry, since the lost response's nonce never arrived.
      const expected = ['POST newOrder 201', ...Array.from({ length: k - 1 }, () => 'GET newNonce 204'), 'GET newNonce 204', 'POST newOrder 201'];
      assert.deepEqual(calls.map((c) => `${c.method} ${c.endpoint} ${c.status}`), expected);
      const [first, retry] = ca.callsTo('newOrder') as [Call, Call];
      const head = calls[calls.length - 2]!;
      assert.notEqual(retry.nonce, first.nonce);
      assert.equal(retry.nonce, head.issuedNonce, 'the retry is signed over the nonce of the GET newNonce just before it');
      assertNoncesFresh(ca.calls);
      // Backoff 250 ms, then 1 s.
      assert.ok(took >= (k === 1 ? 250 : 1250), `took ${took} ms`);
      t.diagnostic(`reset x${k}: ${k + 1} connections, ${Math.round(took)} ms`);
    });
  }

  it('GET directory and HEAD newNonce are retried too', T, async (t) => {
    const { ca, proxy } = await setup(t);
    const transport = new HttpTransport({ timeoutMs: 10_000, transportRetryBaseMs: 20 });
    t.after(() => transport.close());
    const conns = proxy.stats.connections;
    proxy.next(2, 'reset-mid-response');
    const dir = await fetchDirectory(transport, ca.directoryUrl);
    assert.equal(dir.newOrder, `${ca.url}/new-order`);
    assert.equal(proxy.stats.connections - conns, 3);
    assert.equal(transport.requestCount, 3);

    await freshConnections(proxy);
    proxy.next(1, 'reset-mid-response');
    const res = await transport.requestIdempotent({ method: 'HEAD', url: dir.newNonce, step: 'newNonce' });
    assert.equal(res.status, 200);
    assert.equal(transport.requestCount, 5);
  });

  it('stall past timeoutMs 300: TransportError after exactly 1 + maxTransportRetries attempts', T, async (t) => {
    const { ca, proxy, transport, client } = await setup(t, { transport: { timeoutMs: 300 } });
    await freshConnections(proxy);
    await proxy.setMode('stall');
    const stalls = proxy.stats.stall;
    const sent = transport.requestCount;

    const t0 = performance.now();
    const err = await caught(client.newOrder(A_TEST), TransportError);
    const took = performance.now() - t0;

    assert.equal(err.code, 'ERR_ACME_TRANSPORT');
    assert.equal(err.step, 'newOrder');
    assert.equal(err.data.attempts, 4);
    assert.equal(err.data.cause, 'ETIMEDOUT');
    assert.equal(err.data.phase, 'request');
    assert.match(err.message, /gave up after 4 attempts/);
    assert.doesNotMatch(err.message, /protected|signature|"jwk"/, 'no JWS in the message');
    assert.equal(proxy.stats.stall - stalls, 4, 'one connection per attempt');
    assert.equal(transport.requestCount - sent, 4);
    assert.equal(ca.count('newOrder'), 0);
    // 4 x 300 ms timeouts + 250 + 1000 + 2000 ms backoff.
    assert.ok(took >= 4 * 300 + 3250 - 50 && took < 9000, `took ${took} ms`);
    t.diagnostic(`stall: ${String(err.data.attempts)} attempts, typed error after ${Math.round(took)} ms`);

    // Healthy again once the network is.
    await proxy.setMode('pass');
    assert.equal((await client.newOrder(A_TEST)).status, 'pending');
  });

  it('connection refused: TransportError after 1 + maxTransportRetries attempts (option honoured), then recovery', T, async (t) => {
    const { ca, proxy, transport, client } = await setup(t, { client: { maxTransportRetries: 2, transportRetryBaseMs: 50 } });
    await proxy.setMode('refuse');
    await delay(50);
    const sent = transport.requestCount;

    const t0 = performance.now();
    const err = await caught(client.newOrder(A_TEST), TransportError);
    const took = performance.now() - t0;

    assert.equal(err.code, 'ERR_ACME_TRANSPORT');
    assert.equal(err.step, 'newOrder');
    assert.equal(err.data.attempts, 3);
    assert.equal(err.data.cause, 'ECONNREFUSED');
    assert.equal(transport.requestCount - sent, 3);
    assert.equal(ca.count('newOrder'), 0);
    // 50 + 200 ms backoff.
    assert.ok(took >= 240 && took < 3000, `took ${took} ms`);
    t.diagnostic(`refused: ${String(err.data.attempts)} attempts, typed error after ${Math.round(took)} ms`);

    await proxy.setMode('pass');
    assert.equal((await client.newOrder(A_TEST)).status, 'pending');
    assertNoncesFresh(ca.calls);
  });

  it('connection refused with the defaults: 4 attempts, 250 ms + 1 s + 2 s of backoff', T, async (t) => {
    const { proxy, transport, client } = await setup(t);
    await proxy.setMode('refuse');
    await delay(50);
    const sent = transport.requestCount;
    const t0 = performance.now();
    const err = await caught(client.newOrder(A_TEST), TransportError);
    const took = performance.now() - t0;
    assert.equal(err.data.attempts, 4);
    assert.equal(transport.requestCount - sent, 4);
    assert.ok(took >= 3250 - 20 && took < 6000, `took ${took} ms`);
    t.diagnostic(`refused (defaults): 4 attempts, typed error after ${Math.round(took)} ms`);
  });

  it('abort during the backoff: AbortedError promptly, no further attempt', T, async (t) => {
    const controller = new AbortController();
    const { proxy, transport, client } = await setup(t, { client: { signal: controller.signal, transportRetryBaseMs: 5_000 } });
    await proxy.setMode('refuse');
    await delay(50);
    const sent = transport.requestCount;
    const p = client.newOrder(A_TEST);
    p.catch(() => undefined);
    await delay(200); // the refused first attempt is over; the client sleeps 5 s before the next
    assert.equal(transport.requestCount - sent, 1);
    const t0 = performance.now();
    controller.abort();
    const err = await caught(p, AbortedError);
    const took = performance.now() - t0;
    assert.equal(err.code, 'ERR_ABORTED');
    assert.equal(err.step, 'newOrder');
    assert.ok(took < 100, `took ${took} ms to stop`);
    await delay(100);
    assert.equal(transport.requestCount - sent, 1, 'no attempt after the abort');
  });

  it('a response cut after it started is not retried (the CA acted and answered): TransportError at once', T, async (t) => {
    const { ca, proxy, transport, client } = await setup(t);
    const orderUrl = ca.addOrder(['a.test'], 'valid');
    const certUrl = `${ca.url}/cert/${orderUrl.split('/').pop()}`;
    await freshConnections(proxy);
    // Headers (~300 bytes) get through, the PEM body (> 1 kB) is cut by the RST.
    proxy.resetAfterBytes = 600;
    proxy.next(1, 'reset-mid-response');
    const sent = transport.requestCount;
    const err = await caught(client.downloadCertificate(certUrl), TransportError);
    assert.equal(err.step, 'download');
    assert.equal(err.data.phase, 'response');
    assert.equal(err.data.attempts, 1);
    assert.equal(transport.requestCount - sent, 1);
    assert.equal(proxy.stats.resets, 1);
    assert.equal((await client.downloadCertificate(certUrl)).pem, ca.chainPem);
  });
});
