/**
 * The standalone responder is a child of the supervision tree: when its server fails while agents
 * wait on validation (Pebble sleeping up to 2 s before it validates), the tree restarts it on the same
 * port, the tokens survive in the ChallengeStore, and every certificate is still issued.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startHarness, opensslVerify, type Harness } from '../support/pebble-harness.js';

describe('responder restarted mid-validation', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ PEBBLE_VA_NOSLEEP: '0', PEBBLE_VA_SLEEPTIME: '2' });
  });
  after(async () => h.close());

  it('agents waiting on validation still succeed, and the tree shows one responder restart', async () => {
    const sup = await h.supervisor({ maxConcurrentAgents: 5 });
    const port = sup.http01Port;
    let restarted: Promise<boolean> | undefined;
    sup.on('challenge:presented', () => {
      restarted ??= sup.restartResponder();
    });
    const domains = Array.from({ length: 5 }, (_, i) => `restart-${i}.example.test`);
    const results = await Promise.all(domains.map((d) => sup.obtainCertificate(d)));
    assert.equal(await restarted, true);
    assert.equal(sup.http01Port, port, 'the same port after the restart');
    for (const r of results) {
      assert.match(opensslVerify(h.rootPem, readFileSync(r.paths.chain, 'utf8'), readFileSync(r.paths.cert, 'utf8')), /: OK$/);
    }
    const responder = sup.tree().children?.find((c) => c.id === 'responder');
    assert.equal(responder?.restarts, 1);
    assert.equal(responder?.state, 'running');
    await sup.shutdown();
  });
});
