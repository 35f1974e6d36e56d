/**
 * One job per domain, against Pebble: concurrent calls join, a different request waits its turn,
 * shutdown reaches a job that has not started, a failed authorization withdraws every token at once,
 * and the standalone responder reports what it served.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { startHarness, sanNames, type Harness } from '../support/pebble-harness.js';
import { AbortedError, ChallengeFailedError, ErrorCode } from '../../src/errors.js';
import type { Supervisor } from '../../src/supervisor.js';

/** Collects the order URLs a domain's agents report. */
function orderUrls(sup: Supervisor, domain: string): Set<string> {
  const urls = new Set<string>();
  sup.on('state', (e) => {
    if (e.domain === domain && e.orderUrl) urls.add(e.orderUrl);
  });
  return urls;
}

describe('jobs against Pebble', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  it('concurrent identical calls, also with onlyIfDue, share one job and one order', async () => {
    const sup = await h.supervisor();
    await sup.obtainCertificate('join.example.test');
    const orders = orderUrls(sup, 'join.example.test');
    const opts = { sans: ['www.join.example.test'], onlyIfDue: true };
    const [a, b, c] = await Promise.all([
      sup.obtainCertificate('join.example.test', opts),
      sup.obtainCertificate('join.example.test', opts),
      sup.obtainCertificate('JOIN.example.test.', opts),
    ]);
    assert.equal(orders.size, 1);
    assert.equal(a, b);
    assert.equal(b, c);
    assert.deepEqual(sanNames(readFileSync(a.paths.cert, 'utf8')).sort(), ['join.example.test', 'www.join.example.test']);
    await sup.shutdown();
  });

  it('a call with other names or key type waits for the running job, then gets what it asked for', async () => {
    const sup = await h.supervisor();
    const orders = orderUrls(sup, 'turns.example.test');
    const [first, second] = await Promise.all([
      sup.obtainCertificate('turns.example.test'),
      sup.obtainCertificate('turns.example.test', { sans: ['www.turns.example.test'], keyType: 'rsa2048' }),
    ]);
    assert.deepEqual(first.names, ['turns.example.test']);
    assert.equal(first.keyType, 'ec256');
    assert.deepEqual(second.names, ['turns.example.test', 'www.turns.example.test']);
    assert.equal(second.keyType, 'rsa2048');
    assert.equal(orders.size, 2);
    const leaf = new X509Certificate(readFileSync(second.paths.cert));
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    await sup.shutdown();
  });

  it('shutdown reaches a job still checking the store: AbortedError, no order placed', async () => {
    const sup = await h.supervisor();
    const orders = orderUrls(sup, 'late.example.test');
    const p = sup.obtainCertificate('late.example.test', { onlyIfDue: true });
    const rejected = assert.rejects(p, (e: unknown) => e instanceof AbortedError && e.code === ErrorCode.aborted);
    await sup.shutdown();
    await rejected;
    assert.equal(orders.size, 0);
  });

  it('the first failed authorization withdraws every token at once, the slow sibling’s too', async () => {
    const sup = await h.supervisor({ http01: { mode: 'embedded' } });
    // The user's server: 404 for one name, a 6 s stall for the other.
    const app = http.createServer((req, res) => {
      const host = (req.headers.host ?? '').split(':')[0];
      if (host === 'fail.example.test') {
        res.statusCode = 404;
        res.end();
        return;
      }
      setTimeout(() => {
        if (!sup.http01.handle(req, res)) res.end();
      }, 6000).unref();
    });
    await new Promise<void>((r) => app.listen(h.httpPort, '127.0.0.1', r));
    try {
      const started = Date.now();
      await assert.rejects(sup.obtainCertificate('fail.example.test', { sans: ['slow.example.test'] }), (e: unknown) => {
        assert.ok(e instanceof ChallengeFailedError);
        assert.equal(e.data.identifier, 'fail.example.test');
        return true;
      });
      assert.equal(sup.challenges.size, 0, 'no token left behind');
      assert.ok(Date.now() - started < 5000, 'failed without waiting for the stalled validation');
    } finally {
      app.closeAllConnections();
      await new Promise<void>((r) => app.close(() => r()));
      await sup.shutdown();
    }
  });

  it('onlyIfDue orders a new certificate when the stored one is unreadable, instead of failing', async () => {
    const sup = await h.supervisor();
    const first = await sup.obtainCertificate('heal.example.test');
    writeFileSync(first.paths.cert, 'not a certificate\n'); // through the stable path, into the served version
    const healed = await sup.obtainCertificate('heal.example.test', { onlyIfDue: true });
    assert.equal(healed.reused, false);
    const leaf = new X509Certificate(readFileSync(healed.paths.cert));
    assert.ok(leaf.checkPrivateKey(createPrivateKey(readFileSync(healed.paths.privkey))));
    await sup.shutdown();
  });

  it('the standalone responder emits challenge:served for each validation request it answers', async () => {
    const sup = await h.supervisor();
    const presented: string[] = [];
    const served: string[] = [];
    sup.on('challenge:presented', (e) => presented.push(e.token));
    sup.on('challenge:served', (e) => served.push(e.token ?? ''));
    await sup.obtainCertificate('served.example.test');
    assert.equal(presented.length, 1);
    assert.ok(served.length >= 1);
    assert.ok(served.every((t) => t === presented[0]));
    await sup.shutdown();
  });
});
