/**
 * Integration test of the Pebble fixture (src/pebble/pebble-server.ts) against the real Pebble
 * binaries: directory, management roots, nonces, clean stop, and two instances side by side.
 * It does not run any ACME flow.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import https from 'node:https';
import { test } from 'node:test';
import { freePort } from '../../src/net/free-port.js';
import { startPebble, type PebbleInstance } from '../../src/pebble/pebble-server.js';

function get(url: string, ca: string, method = 'GET'): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ESRCH');
    return false;
  }
}

async function checkDirectory(p: PebbleInstance): Promise<Record<string, unknown>> {
  const res = await get(p.directoryUrl, p.caPem);
  assert.equal(res.status, 200);
  const dir = JSON.parse(res.body) as Record<string, unknown>;
  for (const k of ['newNonce', 'newAccount', 'newOrder']) {
    assert.equal(typeof dir[k], 'string', k);
    const u = new URL(dir[k] as string);
    assert.equal(u.protocol, 'https:');
    assert.equal(u.hostname, '127.0.0.1');
  }
  return dir;
}

test('startPebble: directory, root, nonce, clean stop', async (t) => {
  const httpPort = await freePort();
  const lines: string[] = [];
  const t0 = Date.now();
  const p = await startPebble({ httpPort, log: (l) => lines.push(l) });
  const startMs = Date.now() - t0;
  try {
    assert.equal(p.pids.length, 2);
    const dir = await checkDirectory(p);

    const rootPem = await p.fetchRootPem();
    const root = new X509Certificate(rootPem);
    assert.equal(root.ca, true);
    const inter = new X509Certificate(await p.fetchIntermediatePem());
    assert.equal(inter.ca, true);
    assert.ok(inter.checkIssued(root));

    const nonce = await get(dir['newNonce'] as string, p.caPem, 'HEAD');
    assert.ok(nonce.status === 200 || nonce.status === 204, `status ${nonce.status}`);
    assert.equal(typeof nonce.headers['replay-nonce'], 'string');
    assert.ok((nonce.headers['replay-nonce'] as string).length > 0);
    assert.match(p.dnsAddress, /^127\.0\.0\.1:\d+$/);
    assert.match(p.challtestsrvUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(existsSync(p.workDir));
  } finally {
    await p.stop();
  }
  for (const pid of p.pids) assert.equal(isAlive(pid), false, `pid ${pid} still alive`);
  assert.equal(existsSync(p.workDir), false);
  await p.stop(); // idempotent
  t.diagnostic(`pebble fixture start took ${startMs} ms`);
});

test('startPebble: two instances at once get different ports and both work', async () => {
  const [a, b] = await Promise.all([
    startPebble({ httpPort: await freePort() }),
    startPebble({ httpPort: await freePort() }),
  ]);
  try {
    const ports = (p: PebbleInstance): string[] => [
      new URL(p.directoryUrl).port,
      new URL(p.managementUrl).port,
      p.dnsAddress.split(':')[1] as string,
      new URL(p.challtestsrvUrl).port,
    ];
    const all = [...ports(a), ...ports(b)];
    assert.equal(new Set(all).size, all.length, `ports overlap: ${all.join(',')}`);
    assert.notEqual(a.workDir, b.workDir);
    await Promise.all([checkDirectory(a), checkDirectory(b)]);
    const [ra, rb] = await Promise.all([a.fetchRootPem(), b.fetchRootPem()]);
    assert.notEqual(ra, rb);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
  for (const pid of [...a.pids, ...b.pids]) assert.equal(isAlive(pid), false);
  assert.equal(existsSync(a.workDir) || existsSync(b.workDir), false);
});
