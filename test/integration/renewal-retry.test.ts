/**
 * A failed renewal through the whole Supervisor, on a fake clock, against the scripted fake CA (Pebble never
 * sends 429 or Retry-After): the scheduler fires the renewal at its time, the CA answers newOrder with 429
 * and `Retry-After: 7200`, and the retry is set for exactly two hours later (the CA's wait beats the
 * ladder's first minute). When the clock gets there, the renewal succeeds and the new certificate is stored.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeAcmeServer } from '../support/fake-acme-server.js';
import { FakeClock } from '../support/fake-clock.js';
import { until } from '../support/until.js';
import { Supervisor } from '../../src/supervisor.js';
import { ErrorCode, LeecError } from '../../src/errors.js';


describe('a renewal the CA rate-limits, through the Supervisor (fake CA, fake clock)', () => {
  let ca: FakeAcmeServer;
  let storeDir: string;
  before(async () => {
    ca = await FakeAcmeServer.start();
    storeDir = mkdtempSync(join(tmpdir(), 'leec-renewal-retry-'));
  });
  after(async () => {
    await ca.close();
    rmSync(storeDir, { recursive: true, force: true });
  });

  it("retries after the CA's Retry-After, then renews", async () => {
    const clock = new FakeClock(Date.now());
    const sup = await Supervisor.start({ directoryUrl: ca.directoryUrl, allowInsecureLoopback: true, storeDir, keyType: 'ec256', http01: { mode: 'embedded' }, clock });
    const events: Array<{ type: string; attempt?: number; nextAt?: number | undefined; error?: unknown }> = [];
    sup.on('renewal:started', (e) => events.push({ type: 'started', attempt: e.attempt }));
    sup.on('renewal:failed', (e) => events.push({ type: 'failed', attempt: e.attempt, nextAt: e.nextAt, error: e.error }));
    sup.on('renewal:succeeded', (e) => events.push({ type: 'succeeded', attempt: e.attempt }));
    try {
      const first = await sup.obtainCertificate('retry.example.test');
      const planned = await until(() => sup.renewals().find((r) => r.at !== undefined), 'the first schedule');
      ca.script('newOrder', { status: 429, headers: { 'retry-after': '7200' }, problem: 'rateLimited' });

      clock.advance(planned.at! - clock.now());
      const failedAt = clock.now();
      const failed = await until(() => events.find((e) => e.type === 'failed'), 'the failed renewal');
      assert.equal(failed.attempt, 1);
      assert.equal(failed.nextAt, failedAt + 7_200_000, 'retried when the CA said, not on the ladder\'s first minute');
      assert.ok(failed.error instanceof LeecError && failed.error.code === ErrorCode.rateLimited, `error ${String(failed.error)}`);
      assert.deepEqual(sup.renewals().map((r) => [r.at, r.reason]), [[failedAt + 7_200_000, 'retry']]);

      clock.advance(7_199_999);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(events.filter((e) => e.type === 'started').length, 1, 'not before its time');
      clock.advance(1);
      await until(() => events.find((e) => e.type === 'succeeded'), 'the renewal');
      assert.deepEqual(events.map((e) => `${e.type}:${e.attempt}`), ['started:1', 'failed:1', 'started:2', 'succeeded:2']);
      const stored = await sup.store.loadCertificate('retry.example.test');
      assert.notEqual(new X509Certificate(stored!.certPem).serialNumber, new X509Certificate(first.fullchainPem).serialNumber);
      assert.equal(ca.count('newOrder'), 3, 'the first order, the refused one, the renewal');
    } finally {
      await sup.shutdown();
    }
  });
});
