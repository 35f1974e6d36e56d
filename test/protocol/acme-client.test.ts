/**
 * AcmeClient and obtainCertificate against a scripted fake CA over real HTTP and real JWS: nonce
 * threading and badNonce retries (§6.5), Retry-After on 429/503 (§6.6) and on polls (§7.4, §7.5.1),
 * protocol and transport failures, directory tolerance (§7.1.1), resuming an order, and aborting.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type forge from 'node-forge';
import { asn1 } from '../../src/crypto/forge-asn1.js';
import { AcmeClient, type AcmeClientOptions } from '../../src/acme/client.js';
import { fetchDirectory } from '../../src/acme/directory.js';
import { obtainCertificate, type FlowHooks, type ObtainRequest } from '../../src/acme/flow.js';
import { signJws } from '../../src/acme/jws.js';
import { jwkThumbprint, toAccountKey } from '../../src/acme/account-key.js';
import { NoncePool } from '../../src/acme/nonce-pool.js';
import { HttpTransport, type TransportOptions } from '../../src/acme/transport.js';
import { describeCertificate, splitPemChain } from '../../src/crypto/certificate.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import {
  AbortedError,
  BadNonceError,
  ChallengeFailedError,
  PollTimeoutError,
  ProtocolError,
  RateLimitedError,
  TransportError,
} from '../../src/errors.js';
import { FakeAcmeServer, type Call, type StartOptions } from '../support/fake-acme-server.js';
import { caught } from '../support/caught.js';

const A_TEST = [{ type: 'dns' as const, value: 'a.test' }];
const FAST_POLL = { initialMs: 20, maxMs: 100, timeoutMs: 10_000 };
const REQ: ObtainRequest = { names: ['a.test'], keyType: 'ec256', poll: FAST_POLL };
const T = { timeout: 30_000 };

interface Env {
  ca: FakeAcmeServer;
  transport: HttpTransport;
  client: AcmeClient;
}

/** A fake CA, a transport and a client whose account is already created (unless `newAccount: false`). */
async function setup(
  t: TestContext,
  o: { start?: StartOptions; transport?: TransportOptions; client?: Partial<AcmeClientOptions>; newAccount?: boolean } = {},
): Promise<Env> {
  const ca = await FakeAcmeServer.start(o.start);
  const transport = new HttpTransport({ timeoutMs: 10_000, ...o.transport });
  t.after(async () => {
    transport.close();
    await ca.close();
  });
  const directory = await fetchDirectory(transport, ca.directoryUrl);
  const k = await generateKeyPair('ec256');
  const accountKey = await toAccountKey(k.privateKey, k.publicKey, 'ES256');
  const client = new AcmeClient({ directory, transport, accountKey, ...o.client });
  if (o.newAccount !== false) await client.newAccount({ termsOfServiceAgreed: true });
  return { ca, transport, client };
}

interface HookEvent {
  kind: 'present' | 'cleanup';
  at: number;
  /** Challenge POSTs the fake CA had received when the hook ran. */
  challengePosts: number;
  host: string;
  token: string;
  keyAuthorization?: string;
}

function recordingHooks(ca: FakeAcmeServer): { hooks: FlowHooks; events: HookEvent[]; states: string[]; checkpoints: Array<{ orderUrl: string; keyPem?: string }> } {
  const events: HookEvent[] = [];
  const states: string[] = [];
  const checkpoints: Array<{ orderUrl: string; keyPem?: string }> = [];
  const hooks: FlowHooks = {
    async presentChallenge(c) {
      events.push({ kind: 'present', at: performance.now(), challengePosts: ca.count('challenge'), ...c });
    },
    async cleanupChallenge(c) {
      events.push({ kind: 'cleanup', at: performance.now(), challengePosts: ca.count('challenge'), ...c });
    },
    progress(state) {
      states.push(state);
    },
    async checkpoint(c) {
      checkpoints.push(c);
    },
  };
  return { hooks, events, states, checkpoints };
}

/** An HTTP-date (second resolution) at least `ms` from now. */
function httpDateIn(ms: number): string {
  return new Date(Math.ceil((Date.now() + ms) / 1000) * 1000).toUTCString();
}

/** The SubjectPublicKeyInfo DER inside a PKCS#10 CSR (RFC 2986 §4.1). */
function csrSpki(der: Buffer): Buffer {
  const csr = asn1.fromDer(der.toString('binary'));
  const info = (csr.value as forge.asn1.Asn1[])[0]!;
  const spki = (info.value as forge.asn1.Asn1[])[2]!;
  return Buffer.from(asn1.toDer(spki).getBytes(), 'binary');
}

describe('AcmeClient against a scripted fake CA', () => {
  it('obtainCertificate: present before the challenge POST, cleanup after; leaf and chain split; requests counted', T, async (t) => {
    const { ca, client } = await setup(t);
    const { hooks, events, states, checkpoints } = recordingHooks(ca);
    const before = ca.calls.length;

    const result = await obtainCertificate(client, REQ, hooks);

    const flowCalls = ca.calls.slice(before);
    assert.deepEqual(
      flowCalls.map((c) => `${c.endpoint} ${c.status}`),
      ['newOrder 201', 'authorization 200', 'challenge 200', 'authorization 200', 'finalize 200', 'order 200', 'download 200'],
    );
    assert.equal(result.requests, 7);
    assert.equal(result.requests, flowCalls.length);
    // §7.2: each request uses the nonce of the response before it (no extra HEAD newNonce).
    for (let i = 1; i < flowCalls.length; i += 1) assert.equal(flowCalls[i]!.nonce, flowCalls[i - 1]!.issuedNonce);
    assert.equal(flowCalls[0]!.nonce, ca.calls[before - 1]!.issuedNonce);

    // present strictly before the challenge POST, cleanup after the final authorization poll.
    const [challengePost] = ca.callsTo('challenge');
    const lastAuthzPoll = ca.callsTo('authorization')[1]!;
    assert.deepEqual(events.map((e) => `${e.kind} ${e.challengePosts}`), ['present 0', 'cleanup 1']);
    const [present, cleanup] = events as [HookEvent, HookEvent];
    assert.ok(present.at < challengePost!.at);
    assert.ok(cleanup.at > lastAuthzPoll.at);
    assert.equal(present.host, 'a.test');
    assert.equal(cleanup.token, present.token);
    assert.equal(present.keyAuthorization, `${present.token}.${await jwkThumbprint(client.accountKey.jwk)}`);
    assert.deepEqual(challengePost!.payload, {});

    assert.deepEqual(states, ['idle', 'pending', 'valid', 'finalize', 'done']);
    assert.equal(checkpoints.length, 2);
    assert.deepEqual(checkpoints[0], { orderUrl: result.orderUrl });
    assert.deepEqual(checkpoints[1], { orderUrl: result.orderUrl, keyPem: result.keyPem });

    const [leaf, caCert] = splitPemChain(ca.chainOf(result.orderUrl)!) as [string, string];
    assert.equal(result.certPem, leaf);
    assert.equal(result.chainPem, caCert);
    assert.equal(result.fullchainPem, leaf + caCert);
    assert.equal(result.notAfter, describeCertificate(leaf).notAfter.toISOString());
    assert.equal(result.challengesAnswered, 1);
    assert.equal(result.orderUrl, `${ca.url}/order/${result.orderUrl.split('/').pop()}`);
    // The CSR the CA got is the one reported.
    const csrB64 = result.csrPem.replace(/-----[^-]+-----|\s/g, '');
    assert.equal(ca.csrOf(result.orderUrl)?.toString('base64'), csrB64);
    assert.deepEqual(csrSpki(ca.csrOf(result.orderUrl)!), createPublicKey(result.keyPem).export({ type: 'spki', format: 'der' }));
  });

  it('badNonce once: retried with the nonce the error response carried', T, async (t) => {
    const { ca, client } = await setup(t);
    ca.script('newOrder', { problem: 'badNonce' });
    const order = await client.newOrder(A_TEST);
    const [first, second] = ca.callsTo('newOrder') as [Call, Call];
    assert.equal(ca.count('newOrder'), 2);
    assert.deepEqual([first.status, second.status], [400, 201]);
    assert.equal(second.nonce, first.issuedNonce);
    assert.notEqual(second.nonce, first.nonce);
    assert.equal(order.status, 'pending');
    ca.assertScriptsConsumed();
  });

  it('badNonce forever: BadNonceError after exactly 1 + maxBadNonceRetries attempts', T, async (t) => {
    const { ca, client } = await setup(t, { client: { maxBadNonceRetries: 3 } });
    ca.script('newOrder', { problem: 'badNonce', times: Infinity });
    const err = await caught(client.newOrder(A_TEST), BadNonceError);
    assert.equal(err.code, 'ERR_ACME_BAD_NONCE');
    assert.equal(err.step, 'newOrder');
    assert.equal(err.problem?.type, 'urn:ietf:params:acme:error:badNonce');
    const calls = ca.callsTo('newOrder');
    assert.equal(calls.length, 4);
    for (let i = 1; i < calls.length; i += 1) assert.equal(calls[i]!.nonce, calls[i - 1]!.issuedNonce);
  });

  it('429 with Retry-After: 1 on newOrder: waits >= 1000 ms, retries with a fresh nonce, succeeds', T, async (t) => {
    const { ca, client } = await setup(t);
    ca.script('newOrder', { status: 429, headers: { 'retry-after': '1' }, problem: 'rateLimited' });
    const t0 = performance.now();
    const order = await client.newOrder(A_TEST);
    const elapsed = performance.now() - t0;
    const [first, second] = ca.callsTo('newOrder') as [Call, Call];
    assert.equal(ca.count('newOrder'), 2);
    assert.deepEqual([first.status, second.status], [429, 201]);
    assert.ok(elapsed >= 1000, `elapsed ${elapsed} ms`);
    assert.ok(second.at - first.at >= 1000, `gap ${second.at - first.at} ms`);
    assert.equal(second.nonce, first.issuedNonce);
    assert.notEqual(second.nonce, first.nonce);
    assert.equal(order.status, 'pending');
  });

  it('503 with an HTTP-date Retry-After on finalize: waits >= 1000 ms, retries with a fresh nonce', T, async (t) => {
    const { ca, client } = await setup(t);
    let sentRetryAfter = '';
    ca.script('finalize', {
      status: 503,
      headers: () => ({ 'retry-after': (sentRetryAfter = httpDateIn(1500)) }),
    });
    const { hooks } = recordingHooks(ca);
    const result = await obtainCertificate(client, REQ, hooks);
    const [first, second] = ca.callsTo('finalize') as [Call, Call];
    assert.equal(ca.count('finalize'), 2);
    assert.deepEqual([first.status, second.status], [503, 200]);
    assert.match(sentRetryAfter, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    assert.ok(second.at - first.at >= 1000, `gap ${second.at - first.at} ms`);
    assert.equal(second.nonce, first.issuedNonce);
    assert.equal(result.certPem, splitPemChain(ca.chainOf(result.orderUrl)!)[0]);
    ca.assertScriptsConsumed();
  });

  it('429 with Retry-After: 3600: RateLimitedError with retryAfterMs, no retry', T, async (t) => {
    const { ca, client } = await setup(t);
    ca.script('newOrder', { headers: { 'retry-after': '3600' }, problem: { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many orders' } });
    const err = await caught(client.newOrder(A_TEST), RateLimitedError);
    assert.equal(err.code, 'ERR_ACME_RATE_LIMITED');
    assert.equal(err.step, 'newOrder');
    assert.equal(err.data.retryAfterMs, 3_600_000);
    assert.equal(err.problem?.status, 429);
    assert.equal(err.problem?.detail, 'too many orders');
    assert.equal(ca.count('newOrder'), 1);
  });

  it('order stuck in processing: PollTimeoutError', T, async (t) => {
    const { ca, client } = await setup(t);
    ca.script('order', { body: { status: 'processing' }, times: Infinity });
    const { hooks } = recordingHooks(ca);
    const t0 = performance.now();
    const err = await caught(obtainCertificate(client, { ...REQ, poll: { timeoutMs: 1500, initialMs: 50, maxMs: 200 } }, hooks), PollTimeoutError);
    assert.equal(err.code, 'ERR_ACME_POLL_TIMEOUT');
    assert.equal(err.step, 'order');
    assert.deepEqual(err.data, { timeoutMs: 1500 });
    assert.ok(ca.count('order') >= 3, `${ca.count('order')} polls`);
    assert.equal(ca.count('download'), 0);
    assert.ok(performance.now() - t0 < 10_000);
    ca.assertScriptsConsumed();
  });

  it('order polling honours Retry-After', T, async (t) => {
    const { ca, client } = await setup(t);
    ca.script('order', { body: { status: 'processing' }, headers: { 'retry-after': '1' } });
    const { hooks } = recordingHooks(ca);
    await obtainCertificate(client, REQ, hooks);
    const [first, second] = ca.callsTo('order') as [Call, Call];
    assert.equal(ca.count('order'), 2);
    assert.ok(second.at - first.at >= 1000, `gap ${second.at - first.at} ms (initialMs is ${FAST_POLL.initialMs})`);
    ca.assertScriptsConsumed();
  });

  it('authorization polling honours Retry-After', T, async (t) => {
    const { ca, client } = await setup(t);
    ca.script('authorization', {}); // the first GET, before the challenge
    ca.script('authorization', { body: { status: 'pending' }, headers: { 'retry-after': '1' } });
    const { hooks } = recordingHooks(ca);
    await obtainCertificate(client, REQ, hooks);
    const calls = ca.callsTo('authorization');
    assert.equal(calls.length, 3);
    assert.ok(calls[2]!.at - calls[1]!.at >= 1000, `gap ${calls[2]!.at - calls[1]!.at} ms`);
    ca.assertScriptsConsumed();
  });

  it('authorization invalid with subproblems: ChallengeFailedError naming the identifier, cleanup called', T, async (t) => {
    const { ca, client } = await setup(t);
    const error = {
      type: 'urn:ietf:params:acme:error:unauthorized',
      detail: 'Invalid response from http://a.test/.well-known/acme-challenge/x: 404',
      status: 403,
      subproblems: [{ type: 'urn:ietf:params:acme:error:dns', detail: 'NXDOMAIN looking up A', identifier: { type: 'dns', value: 'a.test' } }],
    };
    ca.script('authorization', {});
    ca.script('authorization', {
      body: (b: { challenges: Array<Record<string, unknown>> }) => ({
        ...b,
        status: 'invalid',
        challenges: b.challenges.map((c) => ({ ...c, status: 'invalid', error })),
      }),
    });
    const { hooks, events } = recordingHooks(ca);
    const err = await caught(obtainCertificate(client, REQ, hooks), ChallengeFailedError);
    assert.equal(err.code, 'ERR_ACME_CHALLENGE_FAILED');
    assert.equal(err.step, 'challenge');
    assert.deepEqual(err.data, { identifier: 'a.test', challengeType: 'http-01' });
    assert.deepEqual(err.problem, error);
    assert.match(err.message, /http-01 validation of a\.test failed/);
    assert.match(err.message, /subproblem dns:a\.test dns: NXDOMAIN looking up A/);
    assert.deepEqual(events.map((e) => `${e.kind} ${e.host}`), ['present a.test', 'cleanup a.test']);
    assert.equal(events[1]!.token, events[0]!.token);
    assert.equal(ca.count('finalize'), 0);
    ca.assertScriptsConsumed();
  });

  it('malformed JSON: ProtocolError at the step that read it', T, async (t) => {
    const { ca, client } = await setup(t);
    ca.script('any', { raw: '{not json' });
    const e1 = await caught(client.newOrder(A_TEST), ProtocolError);
    assert.equal(e1.code, 'ERR_ACME_PROTOCOL');
    assert.equal(e1.step, 'newOrder');
    assert.deepEqual(e1.data, { status: 201 });

    const order = await client.newOrder(A_TEST);
    ca.script('authorization', { raw: '"a string"' });
    const e2 = await caught(client.getAuthorization(order.authorizations[0]!), ProtocolError);
    assert.equal(e2.code, 'ERR_ACME_PROTOCOL');
    assert.equal(e2.step, 'authorization');
    ca.assertScriptsConsumed();
  });

  it('missing Replay-Nonce: the next request fetches one with GET newNonce and works', T, async (t) => {
    const { ca, client } = await setup(t);
    ca.script('newOrder', { omitNonce: true });
    const heads = ca.count('newNonce', 'GET');
    const order = await client.newOrder(A_TEST);
    assert.equal(ca.callsTo('newOrder')[0]!.issuedNonce, undefined);
    const again = await client.getOrder(order.url);
    assert.equal(again.status, 'pending');
    assert.equal(ca.count('newNonce', 'GET'), heads + 1);
    const [head, poll] = ca.calls.slice(-2) as [Call, Call];
    assert.deepEqual([head.endpoint, head.method, poll.endpoint, poll.status], ['newNonce', 'GET', 'order', 200]);
    assert.equal(poll.nonce, head.issuedNonce);
  });

  it('two clients on one transport and one nonce pool: the second uses a nonce the first brought, each counts its own requests', T, async (t) => {
    const { ca, transport, client: first } = await setup(t);
    const directory = first.directory;
    const nonces = new NoncePool(transport, directory.newNonce);
    const a = new AcmeClient({ directory, transport, nonces, accountKey: first.accountKey, accountUrl: first.accountUrl });
    const k = await generateKeyPair('ec256');
    const b = new AcmeClient({ directory, transport, nonces, accountKey: await toAccountKey(k.privateKey, k.publicKey, 'ES256') });
    const heads = ca.count('newNonce', 'GET');
    const totalBefore = transport.requestCount;
    await a.newOrder(A_TEST); // empty pool: GET newNonce, then newOrder
    await b.newAccount({ termsOfServiceAgreed: true }); // the nonce newOrder's answer carried: no GET newNonce
    assert.equal(ca.count('newNonce', 'GET'), heads + 1);
    const [order, account] = [ca.callsTo('newOrder').at(-1)!, ca.callsTo('newAccount').at(-1)!];
    assert.equal(account.nonce, order.issuedNonce);
    assert.equal(a.requestCount, 2);
    assert.equal(b.requestCount, 1);
    assert.equal(transport.requestCount - totalBefore, 3);
    assert.equal(nonces.size, 1); // newAccount's answer brought the next one
  });

  it('unexpected status (202 on newOrder): ProtocolError, no retry', T, async (t) => {
    const { ca, client } = await setup(t);
    ca.script('newOrder', { status: 202 });
    const err = await caught(client.newOrder(A_TEST), ProtocolError);
    assert.equal(err.code, 'ERR_ACME_PROTOCOL');
    assert.equal(err.step, 'newOrder');
    assert.deepEqual(err.data, { status: 202 });
    assert.equal(ca.count('newOrder'), 1);
  });

  it('truncated body: TransportError at download; the client still works after', T, async (t) => {
    const { ca, client } = await setup(t);
    ca.script('download', { truncate: true });
    const { hooks, events } = recordingHooks(ca);
    const err = await caught(obtainCertificate(client, REQ, hooks), TransportError);
    assert.equal(err.code, 'ERR_ACME_TRANSPORT');
    assert.equal(err.step, 'download');
    assert.deepEqual(events.map((e) => e.kind), ['present', 'cleanup']);
    const certPath = ca.callsTo('download')[0]!.path;
    const again = await client.downloadCertificate(ca.url + certPath);
    assert.equal(again.pem, ca.chainOf(certPath));
  });

  it('huge body over maxBodyBytes: TransportError, memory stays bounded', T, async (t) => {
    const { ca, client } = await setup(t, { transport: { maxBodyBytes: 1_000_000 } });
    ca.script('download', { hugeBody: 10 * 1024 * 1024 });
    const rss0 = process.memoryUsage().rss;
    const { hooks } = recordingHooks(ca);
    const err = await caught(obtainCertificate(client, REQ, hooks), TransportError);
    const grown = process.memoryUsage().rss - rss0;
    assert.equal(err.code, 'ERR_ACME_TRANSPORT');
    assert.equal(err.step, 'download');
    assert.ok(grown < 50 * 1024 * 1024, `RSS grew by ${grown} bytes`);
  });

  it(
    'huge body over maxBodyBytes: the TransportError says the body was too large',
    T,
    async (t) => {
      const { ca, client } = await setup(t, { transport: { maxBodyBytes: 1_000_000 } });
      ca.script('download', { hugeBody: 10 * 1024 * 1024 });
      const { hooks } = recordingHooks(ca);
      const err = await caught(obtainCertificate(client, REQ, hooks), TransportError);
      assert.match(err.message, /^response too large for POST /);
      assert.match((err.cause as Error).message, /^body over 1000000 bytes$/);
    },
  );

  it('a directory without meta and with unknown fields works', T, async (t) => {
    const { ca, client } = await setup(t, {
      start: { directory: (u) => ({ ...u, renewalInfo: 'http://127.0.0.1:1/ari', 'x-vendor': { anything: [1, 2] } }) },
    });
    assert.equal(client.directory.meta, undefined);
    assert.deepEqual((client.directory as unknown as Record<string, unknown>)['x-vendor'], { anything: [1, 2] });
    const { hooks } = recordingHooks(ca);
    const result = await obtainCertificate(client, REQ, hooks);
    assert.equal(result.certPem, splitPemChain(ca.chainOf(result.orderUrl)!)[0]);
  });

  it('a directory missing newOrder: ProtocolError at step directory', T, async (t) => {
    const ca = await FakeAcmeServer.start({ directory: (u) => ({ newNonce: u.newNonce, newAccount: u.newAccount, meta: {} }) });
    const transport = new HttpTransport({ timeoutMs: 10_000 });
    t.after(async () => {
      transport.close();
      await ca.close();
    });
    const err = await caught(fetchDirectory(transport, ca.directoryUrl), ProtocolError);
    assert.equal(err.code, 'ERR_ACME_PROTOCOL');
    assert.equal(err.step, 'directory');
    assert.match(err.message, /no newOrder URL/);
  });

  it('resume a ready order: no new order, finalized with the resumed key', T, async (t) => {
    const { ca, client } = await setup(t);
    const orderUrl = ca.addOrder(['a.test'], 'ready');
    const resumed = await generateKeyPair('ec256');
    const { hooks, events } = recordingHooks(ca);
    const before = ca.calls.length;
    const result = await obtainCertificate(client, { ...REQ, resumeOrderUrl: orderUrl, resumeKeyPem: resumed.privateKeyPem }, hooks);
    assert.equal(ca.count('newOrder'), 0);
    assert.equal(ca.count('challenge'), 0);
    assert.deepEqual(ca.calls.slice(before).map((c) => c.endpoint), ['order', 'finalize', 'order', 'download']);
    assert.deepEqual(events, []);
    assert.equal(result.orderUrl, orderUrl);
    assert.equal(result.keyPem, resumed.privateKeyPem);
    assert.equal(result.challengesAnswered, 0);
    assert.deepEqual(csrSpki(ca.csrOf(orderUrl)!), resumed.publicKey.export({ type: 'spki', format: 'der' }));
  });

  it('finalize answered orderNotReady (§7.4): the order is polled, then finalized again', T, async (t) => {
    const { ca, client } = await setup(t);
    ca.script('finalize', { problem: 'orderNotReady' });
    const { hooks } = recordingHooks(ca);
    const before = ca.calls.length;
    await obtainCertificate(client, REQ, hooks);
    assert.deepEqual(
      ca.calls.slice(before).map((c) => `${c.endpoint} ${c.status}`),
      ['newOrder 201', 'authorization 200', 'challenge 200', 'authorization 200', 'finalize 403', 'order 200', 'finalize 200', 'order 200', 'download 200'],
    );
    ca.assertScriptsConsumed();
  });

  it('abort while polling: AbortedError promptly, cleanup called', T, async (t) => {
    const controller = new AbortController();
    const { ca, client } = await setup(t, { client: { signal: controller.signal } });
    // Every authorization poll says "pending, come back in 30 s".
    ca.script('authorization', { body: { status: 'pending' }, headers: { 'retry-after': '30' }, times: Infinity });
    const { hooks, events } = recordingHooks(ca);
    const flow = obtainCertificate(client, { ...REQ, poll: { initialMs: 20, maxMs: 100, timeoutMs: 120_000 } }, hooks);
    flow.catch(() => undefined);
    await ca.waitFor('authorization', 2);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    controller.abort();
    const err = await caught(flow, AbortedError);
    const took = performance.now() - t0;
    assert.equal(err.code, 'ERR_ABORTED');
    assert.equal(err.step, 'authorization');
    assert.ok(took < 2000, `took ${took} ms to stop`);
    assert.deepEqual(events.map((e) => e.kind), ['present', 'cleanup']);
    assert.equal(ca.count('authorization'), 2);
    assert.equal(ca.count('finalize'), 0);
  });

  it(
    'abort while a poll request is in flight: AbortedError promptly',
    T,
    async (t) => {
      const controller = new AbortController();
      const { ca, client } = await setup(t, { client: { signal: controller.signal } });
      ca.script('authorization', {});
      ca.script('authorization', { delayMs: 5_000 }); // the first poll after the challenge hangs for 5 s
      const { hooks, events } = recordingHooks(ca);
      const flow = obtainCertificate(client, REQ, hooks);
      flow.catch(() => undefined);
      await ca.waitFor('authorization', 2);
      const t0 = performance.now();
      controller.abort();
      const err = await caught(flow, AbortedError);
      const took = performance.now() - t0;
      assert.equal(err.code, 'ERR_ABORTED');
      assert.deepEqual(events.map((e) => e.kind), ['present', 'cleanup']);
      assert.ok(took < 2000, `took ${took} ms to stop`);
    },
  );
});

describe('the fake CA itself', () => {
  it('rejects unknown and replayed nonces (badNonce + fresh nonce) and a wrong url header', T, async (t) => {
    const { ca, transport, client } = await setup(t, { newAccount: false });
    const newAccountUrl = client.directory.newAccount;
    const post = async (nonce: string, url = newAccountUrl) => {
      const jws = await signJws({ key: client.accountKey, url, nonce, payload: { termsOfServiceAgreed: true } });
      return transport.request({ method: 'POST', url: newAccountUrl, headers: { 'content-type': 'application/jose+json' }, body: JSON.stringify(jws), step: 'newAccount' });
    };
    const head = async () => (await transport.request({ method: 'HEAD', url: client.directory.newNonce, step: 'newNonce' })).headers['replay-nonce'] as string;

    const unknown = await post('bm90LWlzc3VlZA');
    assert.equal(unknown.status, 400);
    assert.equal(JSON.parse(unknown.body.toString()).type, 'urn:ietf:params:acme:error:badNonce');
    assert.match(String(unknown.headers['replay-nonce']), /^[A-Za-z0-9_-]{22}$/);

    const wrongUrl = await post(await head(), `${ca.url}/elsewhere`);
    assert.equal(wrongUrl.status, 401);

    const nonce = await head();
    assert.equal((await post(nonce)).status, 201);
    const replayed = await post(nonce);
    assert.equal(replayed.status, 400);
    assert.equal(JSON.parse(replayed.body.toString()).type, 'urn:ietf:params:acme:error:badNonce');
    assert.equal((await post(await head())).status, 200); // same key: the existing account (§7.3.1)
  });
});
