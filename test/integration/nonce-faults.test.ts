/**
 * Bad-nonce faults against a REAL Pebble (real http-01 validation), through PEBBLE_WFE_NONCEREJECT:
 *
 * - at 50%, every one of 20 parallel certificates is obtained (the client retries `badNonce` with the
 *   fresh nonce the error carries, RFC 8555 §6.5) and each chain verifies against Pebble's root;
 * - at 100%, nothing can succeed: Supervisor.start fails typed at newAccount, after bounded retries and
 *   in bounded time; in throwaway-account mode (start sends no POST) every agent fails typed at its own
 *   newAccount, without a crash loop, and leaves no job behind.
 *
 * Pebble's env cannot change while it runs, so each rate has its own Pebble.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startHarness, opensslVerify, sanNames, type Harness } from '../support/pebble-harness.js';
import { BadNonceError, ErrorCode, LeecError } from '../../src/errors.js';
import { AcmeClient } from '../../src/acme/client.js';
import { fetchDirectory } from '../../src/acme/directory.js';
import { toAccountKey } from '../../src/acme/account-key.js';
import { HttpTransport } from '../../src/acme/transport.js';
import { generateKeyPair, jwsAlgorithmFor } from '../../src/crypto/keys.js';
import type { Supervisor } from '../../src/supervisor.js';

/** The client's default `maxBadNonceRetries` (src/acme/client.ts). */
const DEFAULT_BAD_NONCE_RETRIES = 20;
/** "No hang": the 100% cases must end well within this. */
const BOUND_MS = 60_000;

function isBadNonce(e: unknown, step: string): boolean {
  assert.ok(e instanceof BadNonceError, `expected BadNonceError, got ${String(e)}`);
  assert.ok(e instanceof LeecError);
  assert.equal(e.code, ErrorCode.badNonce);
  assert.equal(e.step, step, e.message);
  assert.match(e.problem?.type ?? '', /badNonce$/);
  return true;
}

describe('nonce faults: Pebble rejecting 50% of nonces', () => {
  let h: Harness;
  let sup: Supervisor;
  before(async () => {
    h = await startHarness({ PEBBLE_WFE_NONCEREJECT: '50' });
    sup = await h.supervisor({ maxConcurrentAgents: 20 });
  });
  after(async () => h?.close());

  it('20 of 20 certificates are obtained in parallel, each chain verifies', { timeout: 180_000 }, async (t) => {
    const restarts: string[] = [];
    sup.on('agent:restart', (e) => restarts.push(e.domain));
    const domains = Array.from({ length: 20 }, (_, i) => `nonce50-${i}.example.test`);
    const t0 = Date.now();
    const settled = await Promise.allSettled(domains.map((d) => sup.obtainCertificate(d)));
    const elapsed = Date.now() - t0;
    const failed = settled.flatMap((s, i) => (s.status === 'rejected' ? [`${domains[i]}: ${String(s.reason)}`] : []));
    assert.deepEqual(failed, [], 'every obtain fulfilled');
    assert.equal(settled.filter((s) => s.status === 'fulfilled').length, 20);
    let requests = 0;
    for (const [i, s] of settled.entries()) {
      assert.equal(s.status, 'fulfilled');
      if (s.status !== 'fulfilled') continue;
      const r = s.value;
      assert.equal(r.domain, domains[i]);
      const leaf = readFileSync(r.paths.cert, 'utf8');
      const chain = readFileSync(r.paths.chain, 'utf8');
      assert.deepEqual(sanNames(leaf), [domains[i]]);
      assert.match(opensslVerify(h.rootPem, chain, leaf), /: OK$/);
      requests += r.requests;
    }
    assert.deepEqual(restarts, [], 'no agent died');
    assert.deepEqual(sup.status(), []);
    // The figure: with half the nonces rejected, requests per certificate roughly double.
    t.diagnostic(`50% badNonce: 20/20 in ${elapsed} ms, ${(requests / 20).toFixed(1)} ACME requests per certificate`);
  });
});

describe('nonce faults: Pebble rejecting 100% of nonces', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ PEBBLE_WFE_NONCEREJECT: '100' });
  });
  after(async () => h?.close());

  it(`one request gives up after ${DEFAULT_BAD_NONCE_RETRIES} retries (${DEFAULT_BAD_NONCE_RETRIES + 1} POSTs) with BadNonceError`, async (t) => {
    const transport = new HttpTransport({ caPem: h.pebble.caPem });
    try {
      const directory = await fetchDirectory(transport, h.pebble.directoryUrl);
      const keyPem = (await generateKeyPair('ec256')).privateKeyPem;
      const privateKey = createPrivateKey(keyPem);
      const client = new AcmeClient({
        directory,
        transport,
        accountKey: await toAccountKey(privateKey, createPublicKey(privateKey), jwsAlgorithmFor(privateKey)),
      });
      const before = transport.requestCount;
      const t0 = Date.now();
      await assert.rejects(client.newAccount({ termsOfServiceAgreed: true }), (e) => isBadNonce(e, 'newAccount'));
      const sent = transport.requestCount - before;
      // One GET newNonce (no nonce at hand), then the first POST and its retries: each badNonce
      // response carries the next nonce, so no further newNonce fetch is needed.
      assert.equal(sent, 1 + DEFAULT_BAD_NONCE_RETRIES + 1, `requests sent: ${sent}`);
      t.diagnostic(`100% badNonce, one request: ${sent - 1} POSTs + 1 GET newNonce in ${Date.now() - t0} ms`);
    } finally {
      transport.close();
    }
  });

  it('Supervisor.start (shared account) rejects with BadNonceError at newAccount, in bounded time', { timeout: BOUND_MS + 10_000 }, async (t) => {
    const t0 = Date.now();
    await assert.rejects(h.supervisor(), (e) => isBadNonce(e, 'newAccount'));
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < BOUND_MS, `took ${elapsed} ms`);
    t.diagnostic(`100% badNonce: Supervisor.start failed typed in ${elapsed} ms`);
  });

  it('throwaway accounts: 5 obtains all reject with BadNonceError, no restart loop, nothing left queued', { timeout: BOUND_MS + 10_000 }, async (t) => {
    // In throwaway mode start only GETs the directory (no nonce needed), so it succeeds; each agent
    // then registers its own account and hits the 100% rejection there.
    const sup = await h.supervisor({ accountMode: 'throwaway', maxConcurrentAgents: 5 });
    assert.equal(sup.accountUrl, undefined);
    const restarts: unknown[] = [];
    const failures: string[] = [];
    sup.on('agent:restart', (e) => restarts.push(e));
    sup.on('failure', (e) => failures.push(e.domain));
    const domains = Array.from({ length: 5 }, (_, i) => `nonce100-${i}.example.test`);
    const t0 = Date.now();
    const settled = await Promise.allSettled(domains.map((d) => sup.obtainCertificate(d)));
    const elapsed = Date.now() - t0;
    for (const s of settled) {
      assert.equal(s.status, 'rejected');
      if (s.status === 'rejected') isBadNonce(s.reason, 'newAccount');
    }
    assert.ok(elapsed < BOUND_MS, `took ${elapsed} ms`);
    assert.deepEqual(restarts, [], 'agent:restart never fired (a typed failure is not a crash)');
    assert.deepEqual(failures.sort(), [...domains].sort(), 'one failure event per domain');
    assert.deepEqual(sup.status(), [], 'no job left');
    assert.equal(sup.threads.queued, 0, 'no job queued for a thread');
    t.diagnostic(`100% badNonce, throwaway: 5/5 rejected BadNonceError in ${elapsed} ms; threads ${JSON.stringify(sup.threads)}`);
  });
});
