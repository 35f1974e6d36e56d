/**
 * The whole process SIGKILLed mid-issuance and started again resumes the order from the store's
 * checkpoint: one newOrder, one finalize, and the stored certificate matches its key. The CA is the
 * scripted fake (counted exactly); the issuing process is a real child process.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { FakeAcmeServer } from '../support/fake-acme-server.js';

const CHILD = new URL('../support/issue-once.js', import.meta.url).pathname;

/** Runs the child; `killAt` SIGKILLs it when it reports that state. Resolves with its stdout lines. */
function runChild(args: string[], killAt?: string): Promise<{ lines: string[]; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (killAt !== undefined && line.startsWith(`state ${killAt} `)) child.kill('SIGKILL');
    });
    child.once('error', reject);
    child.once('exit', (_code, signal) => resolve({ lines, signal }));
  });
}

describe('whole-process crash', () => {
  let ca: FakeAcmeServer;
  let root: string;
  before(async () => {
    ca = await FakeAcmeServer.start();
    root = mkdtempSync(join(tmpdir(), 'leec-process-kill-'));
  });
  after(async () => {
    await ca.close();
    rmSync(root, { recursive: true, force: true });
  });

  for (const [killAt, slow] of [
    ['pending', 'authorization'],
    ['finalize', 'order'],
  ] as const) {
    it(`SIGKILL at ${killAt}, then a new process: the same order is finished`, async () => {
      const storeDir = join(root, killAt);
      const domain = `process-${killAt}.example.test`;
      const orders = ca.count('newOrder');
      const finalizes = ca.count('finalize');
      // Slow the step after the kill point down so the kill lands before the order completes.
      ca.script(slow, { delayMs: 1500 });
      const first = await runChild([ca.directoryUrl, storeDir, domain], killAt);
      assert.equal(first.signal, 'SIGKILL', `killed at ${killAt}: ${first.lines.join(' | ')}`);
      const firstOrder = first.lines.find((l) => l.startsWith(`state ${killAt} `))!.split(' ')[2];

      const second = await runChild([ca.directoryUrl, storeDir, domain]);
      assert.equal(second.signal, null);
      assert.ok(second.lines.some((l) => l.startsWith('done ')), second.lines.join(' | '));
      const resumedOrders = new Set(second.lines.filter((l) => l.startsWith('state ') && !l.endsWith(' -')).map((l) => l.split(' ')[2]));
      assert.deepEqual([...resumedOrders], [firstOrder], 'the second process worked on the first one’s order');
      assert.equal(ca.count('newOrder') - orders, 1, 'one order in all');
      assert.equal(ca.count('finalize') - finalizes, 1, 'finalized once');

      const certDir = join(storeDir, 'certificates', domain);
      const cert = new X509Certificate(readFileSync(join(certDir, 'cert.pem')));
      assert.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(join(certDir, 'privkey.pem')))));
      assert.throws(() => readFileSync(join(storeDir, 'orders', `${domain}.json`)), /ENOENT/, 'checkpoint removed once stored');
    });
  }
});
