/**
 * End-to-end issuance against a real Pebble with real http-01 validation (never VA_ALWAYS_VALID),
 * default 5% bad-nonce rejection on: one domain, ten in parallel over one thread per core, SANs, every key type,
 * LEEC's async mode, ongoing challenges, stop, and a killed agent that resumes its order.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { threadId } from 'node:worker_threads';
import { startHarness, opensslVerify, sanNames, type Harness } from '../support/pebble-harness.js';
import { KEY_TYPES } from '../../src/crypto/key-type.js';
import { AbortedError, ErrorCode } from '../../src/errors.js';
import type { ObtainOutcome } from '../../src/certificate-result.js';
import type { Supervisor } from '../../src/supervisor.js';

describe('issuance against Pebble', () => {
  let h: Harness;
  let sup: Supervisor;
  before(async () => {
    h = await startHarness();
    sup = await h.supervisor({ maxConcurrentAgents: 10 });
  });
  after(async () => h.close());

  it('issues one certificate whose chain verifies against Pebble’s root, key stored 0600', async () => {
    const r = await sup.obtainCertificate('one.example.test');
    assert.deepEqual(r.names, ['one.example.test']);
    assert.equal(r.reused, false);
    const leaf = readFileSync(r.paths.cert, 'utf8');
    const chain = readFileSync(r.paths.chain, 'utf8');
    assert.deepEqual(sanNames(leaf), ['one.example.test']);
    assert.match(opensslVerify(h.rootPem, chain, leaf), /: OK$/);
    assert.equal(statSync(r.paths.privkey).mode & 0o777, 0o600);
    assert.equal(statSync(r.paths.leecKey).mode & 0o777, 0o600);
    const x = new X509Certificate(leaf);
    assert.ok(x.checkPrivateKey(createPrivateKey(readFileSync(r.paths.privkey, 'utf8'))));
    assert.equal(readFileSync(r.paths.fullchain, 'utf8'), leaf + chain);
    assert.equal(new Date(x.validTo).toISOString(), r.notAfter);
  });

  it('issues ten domains in parallel, their agents spread over one worker thread per core (the default)', async () => {
    const domains = Array.from({ length: 10 }, (_, i) => `par-${i}.example.test`);
    const results = await Promise.all(domains.map((d) => sup.obtainCertificate(d)));
    assert.deepEqual(results.map((r) => r.domain), domains);
    const threads = new Set(results.map((r) => r.threadId));
    assert.equal(threads.size, Math.min(availableParallelism(), 10), `agent threads: ${[...threads].join(',')}`);
    assert.ok(!threads.has(threadId), 'no agent ran on the main thread');
    for (const r of results) {
      assert.deepEqual(sanNames(readFileSync(r.paths.cert, 'utf8')), [r.domain]);
    }
  });

  it('puts every SAN in the leaf', async () => {
    const r = await sup.obtainCertificate('shop.example.test', { sans: ['www.shop.example.test', 'cdn.shop.example.test', 'api.shop.example.test'] });
    const names = sanNames(readFileSync(r.paths.cert, 'utf8')).sort();
    assert.deepEqual(names, ['api.shop.example.test', 'cdn.shop.example.test', 'shop.example.test', 'www.shop.example.test']);
    assert.equal(r.challengesAnswered, 4);
  });

  it('issues for an IPv4 identifier (RFC 8738) with http-01: an iPAddress SAN', async () => {
    const r = await sup.obtainCertificate('127.0.0.1', { sans: ['ip.example.test'] });
    assert.deepEqual(r.names, ['127.0.0.1', 'ip.example.test']);
    const san = new X509Certificate(readFileSync(r.paths.cert)).subjectAltName ?? '';
    assert.deepEqual(san.split(', ').sort(), ['DNS:ip.example.test', 'IP Address:127.0.0.1']);
  });

  for (const keyType of KEY_TYPES) {
    it(`issues a certificate with a ${keyType} key`, async () => {
      const r = await sup.obtainCertificate(`key-${keyType}.example.test`, { keyType });
      const pub = new X509Certificate(readFileSync(r.paths.cert, 'utf8')).publicKey;
      const details = pub.asymmetricKeyDetails!;
      if (keyType.startsWith('rsa')) {
        assert.equal(pub.asymmetricKeyType, 'rsa');
        assert.equal(details.modulusLength, Number(keyType.slice(3)));
      } else {
        assert.equal(pub.asymmetricKeyType, 'ec');
        assert.equal(details.namedCurve, keyType === 'ec256' ? 'prime256v1' : 'secp384r1');
      }
      assert.equal(r.keyType, keyType);
    });
  }

  it('reports LEEC states in order, and the ongoing challenges while pending', async () => {
    const states: string[] = [];
    let ongoing: Record<string, string> | undefined;
    let served: string | undefined;
    const onState = (e: { domain: string; state: string }): void => {
      if (e.domain === 'states.example.test') states.push(e.state);
    };
    const onPresented = (e: { domain: string; host: string; token: string }): void => {
      if (e.domain !== 'states.example.test') return;
      void sup.ongoingChallenges('STATES.example.test.').then((m) => (ongoing = m));
      served = sup.challenges.get(e.host, e.token);
    };
    sup.on('state', onState);
    sup.on('challenge:presented', onPresented);
    await sup.obtainCertificate('states.example.test');
    sup.off('state', onState);
    sup.off('challenge:presented', onPresented);
    assert.deepEqual(states, ['idle', 'pending', 'valid', 'finalize', 'done']);
    assert.ok(ongoing, 'ongoingChallenges answered');
    const entries = Object.entries(ongoing);
    assert.equal(entries.length, 1);
    const [token, keyAuth] = entries[0]!;
    assert.equal(keyAuth, served);
    assert.ok(keyAuth.startsWith(`${token}.`));
    // Once final, the token is withdrawn and nothing is ongoing.
    assert.deepEqual(await sup.ongoingChallenges('states.example.test'), {});
    assert.equal(sup.challenges.size, 0);
  });

  it('calls back in LEEC’s async mode', async () => {
    const outcome = await new Promise<ObtainOutcome>((resolve) => {
      const ret = sup.obtainCertificate('async.example.test', {}, resolve);
      assert.equal(ret, 'async');
    });
    assert.equal(outcome.status, 'success');
    if (outcome.status !== 'success') return;
    assert.equal(outcome.keyPath, outcome.result.paths.privkey);
    assert.deepEqual(sanNames(readFileSync(outcome.certPath, 'utf8'))[0], 'async.example.test');
  });

  it('async mode reports bad input as a failure outcome with its code', async () => {
    const outcome = await new Promise<ObtainOutcome>((resolve) => sup.obtainCertificate('bad_name.example.test', {}, resolve));
    assert.equal(outcome.status, 'failure');
    if (outcome.status === 'failure') assert.equal(outcome.error.code, ErrorCode.invalidDomain);
  });

  it('stop(domain) ends a running job with AbortedError and withdraws its tokens', async () => {
    const p = sup.obtainCertificate('stopped.example.test');
    await new Promise<void>((resolve) => {
      const on = (e: { domain: string; state: string }): void => {
        if (e.domain === 'stopped.example.test' && e.state === 'pending') {
          sup.off('state', on);
          resolve();
        }
      };
      sup.on('state', on);
    });
    await sup.stop('stopped.example.test');
    await assert.rejects(p, (e: unknown) => e instanceof AbortedError && e.code === ErrorCode.aborted);
    assert.equal(sup.challenges.size, 0);
  });

  it('restarts an agent whose thread is killed and resumes the same order', async () => {
    const orders = new Set<string>();
    const incarnations: number[] = [];
    let killed = false;
    const onState = (e: { domain: string; state: string; incarnation: number; orderUrl?: string | undefined }): void => {
      if (e.domain !== 'killed.example.test') return;
      if (e.orderUrl) orders.add(e.orderUrl);
      incarnations.push(e.incarnation);
      if (e.state === 'valid' && !killed) {
        killed = true;
        void sup.killAgent('killed.example.test');
      }
    };
    const restarts: number[] = [];
    sup.on('state', onState);
    sup.on('agent:restart', (e) => restarts.push(e.incarnation));
    const r = await sup.obtainCertificate('killed.example.test');
    sup.off('state', onState);
    assert.ok(killed);
    assert.deepEqual(restarts, [1]);
    assert.equal(orders.size, 1, `one order only, saw ${[...orders].join(' ')}`);
    assert.ok(incarnations.includes(1));
    assert.match(opensslVerify(h.rootPem, readFileSync(r.paths.chain, 'utf8'), readFileSync(r.paths.cert, 'utf8')), /: OK$/);
  });
});
