/**
 * Crash test of the certificate store: a child process (test/support/renew-loop.ts) renews one
 * domain in a tight loop over five pre-generated key/certificate pairs and is SIGKILLed 20 times at
 * random moments. After every kill the stored set must be complete, readable through the stable
 * paths, matching (cert ↔ key, fullchain = cert + chain) and one of the five pairs. No ACME server.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CertStore } from '../../src/store/cert-store.js';

const KILLS = 20;
const DOMAIN = 'kill.test';
const RENEW_LOOP = fileURLToPath(new URL('../support/renew-loop.js', import.meta.url));

interface Pair {
  dir: string;
  certPem: string;
  keyPem: string;
}

function selfSigned(dir: string, cn: string): Pair {
  mkdirSync(dir, { recursive: true });
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', `/CN=${cn}`, '-addext', `subjectAltName=DNS:${cn}`,
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  return { dir, certPem: readFileSync(join(dir, 'cert.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'key.pem'), 'utf8') };
}

/** Runs one child until it has saved once, lets it run 10-200 ms more, SIGKILLs it. Returns its save count. */
async function runAndKill(args: string[]): Promise<{ saves: number; delayMs: number }> {
  const child = spawn(process.execPath, [RENEW_LOOP, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let saves = 0;
  let stderr = '';
  let buffered = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const firstSave = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no save within 15 s; stderr: ${stderr}`)), 15_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^saved (\d+)$/.exec(line);
        if (m) saves = Number(m[1]);
      }
      if (saves > 0) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (stderr += c));
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`renew loop exited early (code ${code}, signal ${signal}): ${stderr}`));
    });
  });
  try {
    await firstSave;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const delayMs = 10 + Math.floor(Math.random() * 191);
  await new Promise((r) => setTimeout(r, delayMs));
  assert.ok(child.kill('SIGKILL'));
  const { signal } = await exited;
  assert.equal(signal, 'SIGKILL', `child ended by SIGKILL, not on its own; stderr: ${stderr}`);
  return { saves, delayMs };
}

/** Entries an interrupted save leaves behind until the next save sweeps them. */
async function leftovers(root: string): Promise<{ versions: number; temps: number }> {
  const vdir = join(root, 'certificates', '.versions', DOMAIN);
  const ddir = join(root, 'certificates', DOMAIN);
  const inV = await readdir(vdir);
  const inD = await readdir(ddir);
  return {
    versions: inV.filter((n) => n.startsWith('v-')).length,
    temps: [...inV, ...inD].filter((n) => n.endsWith('.tmp')).length,
  };
}

describe('certificate store under SIGKILL', () => {
  let base: string;
  let root: string;
  let chainFile: string;
  let chainPem: string;
  const pairs: Pair[] = [];

  before(() => {
    base = mkdtempSync(join(tmpdir(), 'leec-kill-store-'));
    root = join(base, 'store');
    const issuer = selfSigned(join(base, 'issuer'), 'Fake Issuer');
    chainFile = join(issuer.dir, 'cert.pem');
    chainPem = issuer.certPem;
    for (let i = 0; i < 5; i++) pairs.push(selfSigned(join(base, `pair-${i}`), DOMAIN));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it(`keeps a complete, matching pair through ${KILLS} random SIGKILLs of a renewing process`, async (t) => {
    const store = new CertStore(root);
    const p = store.paths(DOMAIN);
    const args = [root, DOMAIN, chainFile, ...pairs.map((x) => x.dir)];
    let totalSaves = 0;
    let interrupted = 0;
    const seen = new Set<number>();
    const delays: number[] = [];

    for (let k = 1; k <= KILLS; k++) {
      const { saves, delayMs } = await runAndKill(args);
      totalSaves += saves;
      delays.push(delayMs);
      const left = await leftovers(root);
      if (left.versions > 2 || left.temps > 0) interrupted += 1;

      const loaded = await store.loadCertificate(DOMAIN);
      assert.ok(loaded, `kill ${k}: a certificate is stored`);
      const leaf = new X509Certificate(loaded.certPem);
      assert.ok(leaf.checkPrivateKey(createPrivateKey(loaded.keyPem)), `kill ${k}: cert matches key`);
      assert.equal(loaded.fullchainPem, loaded.certPem + loaded.chainPem, `kill ${k}: fullchain = cert + chain`);
      assert.equal(loaded.chainPem, chainPem);
      assert.equal(loaded.meta.serialNumber, leaf.serialNumber, `kill ${k}: meta names this certificate`);
      const idx = pairs.findIndex((x) => x.certPem === loaded.certPem && x.keyPem === loaded.keyPem);
      assert.ok(idx >= 0, `kill ${k}: the stored pair is one of the pre-generated pairs`);
      seen.add(idx);

      // What a TLS server reads: the stable paths, each on its own.
      const [keyPem, certPem, chain, fullchain, leecKey, leecCrt, metaText] = await Promise.all(
        [p.privkey, p.cert, p.chain, p.fullchain, p.leecKey, p.leecCrt, p.meta].map((f) => readFile(f, 'utf8')),
      );
      assert.equal(keyPem, loaded.keyPem, `kill ${k}: privkey.pem`);
      assert.equal(certPem, loaded.certPem, `kill ${k}: cert.pem`);
      assert.equal(chain, loaded.chainPem, `kill ${k}: chain.pem`);
      assert.equal(fullchain, loaded.fullchainPem, `kill ${k}: fullchain.pem`);
      assert.equal(leecKey, loaded.keyPem, `kill ${k}: ${DOMAIN}.key`);
      assert.equal(leecCrt, loaded.fullchainPem, `kill ${k}: ${DOMAIN}.crt`);
      assert.deepEqual(JSON.parse(metaText ?? ''), loaded.meta, `kill ${k}: meta.json`);
      assert.ok(new X509Certificate(fullchain ?? '').checkPrivateKey(createPrivateKey(keyPem ?? '')), `kill ${k}: fullchain.pem ↔ privkey.pem`);
      assert.equal((await stat(p.privkey)).mode & 0o777, 0o600);
    }

    // The next save sweeps whatever the last kill left.
    const last = pairs[0]!;
    await store.saveCertificate({
      domain: DOMAIN, names: [DOMAIN], keyType: 'ec256', certPem: last.certPem, chainPem,
      fullchainPem: last.certPem + chainPem, keyPem: last.keyPem,
      notBefore: '2025-01-01T00:00:00.000Z', notAfter: '2025-04-01T00:00:00.000Z',
    });
    const clean = await leftovers(root);
    assert.equal(clean.temps, 0);
    assert.equal(clean.versions, 2, 'current and previous are kept, older versions pruned');
    assert.equal((await store.loadCertificate(DOMAIN))?.keyPem, last.keyPem);

    const summary =
      `${KILLS} SIGKILLs (10-200 ms after the first save, mean ${Math.round(delays.reduce((a, b) => a + b, 0) / delays.length)} ms), ` +
      `${totalSaves} saves completed in all, ${interrupted} kills left an interrupted save behind, ` +
      `${KILLS}/${KILLS} loads complete and matching, ${seen.size}/5 distinct pairs found stored`;
    t.diagnostic(summary);
  });
});
