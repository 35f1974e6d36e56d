/**
 * Crash-resume: an agent's thread killed at each step of the order (process.exit, an uncaught throw,
 * terminate from outside, a hang past its deadline) is restarted by its domain supervisor and resumes
 * the same order: the certificate is issued and the CA saw exactly one newOrder. Counted at the scripted
 * fake CA; real sockets, real JWS, agents on real worker threads.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeAcmeServer } from '../support/fake-acme-server.js';
import { Supervisor } from '../../src/supervisor.js';
import type { SupervisorOptions } from '../../src/options.js';
import { AbortedError, ActorExitedError, ErrorCode } from '../../src/errors.js';

const MILESTONES = ['orderplaced', 'challengeanswered', 'finalized', 'downloading'] as const;

describe('crash-resume', () => {
  let ca: FakeAcmeServer;
  let storeDir: string;
  let sup: Supervisor;
  const start = (extra: Partial<SupervisorOptions> = {}): Promise<Supervisor> =>
    Supervisor.start({
      directoryUrl: ca.directoryUrl,
      allowInsecureLoopback: true,
      storeDir,
      keyType: 'ec256',
      http01: { mode: 'embedded' },
      agentEntry: new URL('../support/crashing-agent.js', import.meta.url).href,
      restartBackoffMs: { minMs: 10, maxMs: 50 },
      ...extra,
    });
  before(async () => {
    ca = await FakeAcmeServer.start();
    storeDir = mkdtempSync(join(tmpdir(), 'leec-crash-'));
    sup = await start({ jobTimeoutMs: 3000 });
  });
  after(async () => {
    await sup.shutdown();
    await ca.close();
    rmSync(storeDir, { recursive: true, force: true });
  });

  for (const kind of ['exit', 'throw', 'hang'] as const) {
    for (const milestone of MILESTONES) {
      it(`${kind} after ${milestone}: restarted once, same order, certificate issued`, async () => {
        const domain = `crash-${kind}-${milestone}.example.test`;
        const ordersBefore = ca.count('newOrder');
        const restarts: number[] = [];
        const onRestart = (e: { domain: string; incarnation: number }): void => {
          if (e.domain === domain) restarts.push(e.incarnation);
        };
        sup.on('agent:restart', onRestart);
        const r = await sup.obtainCertificate(domain);
        sup.off('agent:restart', onRestart);
        assert.deepEqual(restarts, [1]);
        assert.equal(ca.count('newOrder') - ordersBefore, 1, 'exactly one order');
        assert.deepEqual(r.names, [domain]);
        assert.match(readFileSync(r.paths.fullchain, 'utf8'), /BEGIN CERTIFICATE/);
        assert.equal(sup.challenges.size, 0);
      });
    }
  }

  it('terminated from outside at each state: one order per domain', async () => {
    for (const state of ['pending', 'valid', 'finalize'] as const) {
      const domain = `kill-at-${state}.example.test`;
      const ordersBefore = ca.count('newOrder');
      let killed = false;
      const onState = (e: { domain: string; state: string }): void => {
        if (e.domain === domain && e.state === state && !killed) {
          killed = true;
          void sup.killAgent(domain);
        }
      };
      sup.on('state', onState);
      const r = await sup.obtainCertificate(domain);
      sup.off('state', onState);
      assert.ok(killed, `killed at ${state}`);
      assert.equal(ca.count('newOrder') - ordersBefore, 1, `one order when killed at ${state}`);
      assert.equal(r.domain, domain);
    }
  });

  it('stop() during a restart backoff ends the job at once with AbortedError', async () => {
    const slowDir = mkdtempSync(join(tmpdir(), 'leec-crash-backoff-'));
    const slow = await Supervisor.start({
      directoryUrl: ca.directoryUrl,
      allowInsecureLoopback: true,
      storeDir: slowDir,
      keyType: 'ec256',
      http01: { mode: 'embedded' },
      agentEntry: new URL('../support/crashing-agent.js', import.meta.url).href,
      restartBackoffMs: { minMs: 5000, maxMs: 5000 },
    });
    try {
      const domain = 'crash-exit-orderplaced.backoff.example.test';
      const restarting = new Promise<void>((resolve) => slow.once('agent:restart', () => resolve()));
      const p = slow.obtainCertificate(domain);
      const rejected = assert.rejects(p, (e: unknown) => e instanceof AbortedError && e.code === ErrorCode.aborted);
      await restarting;
      const t = Date.now();
      await slow.stop(domain);
      await rejected;
      assert.ok(Date.now() - t < 2000, `stopped in ${Date.now() - t} ms, not after the 5 s backoff`);
      assert.deepEqual(slow.status(), []);
    } finally {
      await slow.shutdown();
      rmSync(slowDir, { recursive: true, force: true });
    }
  });

  it('a domain that keeps crashing gives up alone; its siblings are untouched', async () => {
    const gaveUp: string[] = [];
    const onGaveUp = (e: { domain: string }): void => void gaveUp.push(e.domain);
    sup.on('domain:gave-up', onGaveUp);
    // Every incarnation of this one is killed as soon as it reports; the other domain runs beside it.
    const doomed = 'doomed.example.test';
    const onState = (e: { domain: string; state: string }): void => {
      if (e.domain === doomed && e.state === 'idle') void sup.killAgent(doomed);
    };
    sup.on('state', onState);
    const [lost, fine] = await Promise.allSettled([sup.obtainCertificate(doomed), sup.obtainCertificate('sibling.example.test')]);
    sup.off('state', onState);
    sup.off('domain:gave-up', onGaveUp);
    assert.equal(lost.status, 'rejected');
    if (lost.status === 'rejected') {
      assert.ok(lost.reason instanceof ActorExitedError);
      assert.equal(lost.reason.code, ErrorCode.actorExited);
    }
    assert.equal(fine.status, 'fulfilled');
    assert.deepEqual(gaveUp, [doomed]);
    // The tree is healthy: the next job for the doomed name starts afresh and succeeds.
    const again = await sup.obtainCertificate('doomed-later.example.test');
    assert.equal(again.domain, 'doomed-later.example.test');
    assert.deepEqual(sup.tree().children?.map((c) => c.id), ['domains', 'scheduler']);
  });
});
