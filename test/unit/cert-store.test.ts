/**
 * Unit tests of CertStore and writeFileAtomic on a temp directory: round trip, file and directory
 * modes, the key-mismatch guard, and no leftover temp files. Certificates come from the openssl CLI.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, InvalidInputError, StoreError } from '../../src/errors.js';
import { CertStore, type CertificateFiles } from '../../src/store/cert-store.js';
import { writeFileAtomic } from '../../src/store/atomic-write.js';
import { selfSigned } from '../support/self-signed.js';


function filesFor(domain: string, c: { certPem: string; keyPem: string }, csrPem?: string): CertificateFiles {
  const f: CertificateFiles = {
    domain,
    names: [domain],
    keyType: 'ec256',
    certPem: c.certPem,
    chainPem: c.certPem,
    fullchainPem: c.certPem + c.certPem,
    keyPem: c.keyPem,
    notBefore: '2025-01-01T00:00:00.000Z',
    notAfter: '2025-04-01T00:00:00.000Z',
  };
  if (csrPem !== undefined) f.csrPem = csrPem;
  return f;
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('CertStore', () => {
  let base: string;
  let root: string;
  let a: { certPem: string; keyPem: string };
  let b: { certPem: string; keyPem: string };

  before(() => {
    base = mkdtempSync(join(tmpdir(), 'leec-store-'));
    root = join(base, 'store');
    a = selfSigned(base, 'a', 'a.test');
    b = selfSigned(base, 'b', 'a.test');
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('loadCertificate is undefined before any save', async () => {
    assert.equal(await new CertStore(root).loadCertificate('a.test'), undefined);
  });

  it('saves and loads a certificate with the right modes', async () => {
    const store = new CertStore(root);
    const meta = await store.saveCertificate(filesFor('a.test', a, 'CSR PEM'));
    assert.equal(meta.domain, 'a.test');
    assert.ok(meta.serialNumber);
    const p = store.paths('a.test');
    const loaded = await store.loadCertificate('a.test');
    assert.ok(loaded);
    assert.equal(loaded.certPem, a.certPem);
    assert.equal(loaded.keyPem, a.keyPem);
    assert.equal(loaded.chainPem, a.certPem);
    assert.equal(loaded.fullchainPem, a.certPem + a.certPem);
    assert.equal(loaded.csrPem, 'CSR PEM');
    assert.deepEqual(loaded.names, ['a.test']);
    assert.deepEqual(loaded.meta, meta);
    assert.equal(await mode(p.privkey), 0o600);
    assert.equal(await mode(p.leecKey), 0o600);
    assert.equal(p.leecKey, join(root, 'certificates', 'a.test', 'a.test.key'));
    assert.equal(await readFile(p.leecKey, 'utf8'), a.keyPem);
    assert.equal(await readFile(p.leecCrt, 'utf8'), a.certPem + a.certPem);
    assert.equal(await mode(p.fullchain), 0o644);
    assert.equal(await mode(p.cert), 0o644);
    assert.equal(await mode(store.domainDir('a.test')), 0o700);
    assert.equal(await mode(join(root, 'certificates')), 0o700);
    assert.ok((await stat(p.meta)).isFile());
    const leftovers = (await readdir(store.domainDir('a.test'))).filter((n) => n.endsWith('.tmp'));
    assert.deepEqual(leftovers, []);
  });

  it('rejects a mismatched key and leaves the saved files byte-equal', async () => {
    const store = new CertStore(root);
    const dir = store.domainDir('a.test');
    const names = (await readdir(dir)).sort();
    const snapshot = new Map<string, Buffer>();
    for (const n of names) snapshot.set(n, await readFile(join(dir, n)));
    await assert.rejects(
      store.saveCertificate(filesFor('a.test', { certPem: b.certPem, keyPem: a.keyPem })),
      (err: unknown) => {
        assert.ok(err instanceof StoreError);
        assert.equal(err.code, ErrorCode.keyMismatch);
        assert.equal(err.code, 'ERR_KEY_MISMATCH');
        return true;
      },
    );
    assert.deepEqual((await readdir(dir)).sort(), names);
    for (const n of names) assert.deepEqual(await readFile(join(dir, n)), snapshot.get(n));
  });

  it('a mismatch for a new domain creates nothing', async () => {
    const store = new CertStore(root);
    await assert.rejects(store.saveCertificate(filesFor('new.test', { certPem: b.certPem, keyPem: a.keyPem })), StoreError);
    await assert.rejects(stat(store.domainDir('new.test')), { code: 'ENOENT' });
  });

  it('a missing file named by meta is a StoreError', async () => {
    const store = new CertStore(root);
    await store.saveCertificate(filesFor('c.test', a));
    await rm(store.paths('c.test').chain);
    await assert.rejects(store.loadCertificate('c.test'), StoreError);
  });

  it('checks domain names; wildcards get a safe directory', () => {
    const store = new CertStore(root);
    assert.equal(store.domainDir('*.Example.COM'), join(root, 'certificates', '_wildcard_.example.com'));
    assert.equal(store.domainDir('xn--bcher-kva.example'), join(root, 'certificates', 'xn--bcher-kva.example'));
    for (const bad of ['../x', 'a/b', '..', '', 'a..b', '%2e%2e', '*.', 'a_b.test']) {
      assert.throws(() => store.domainDir(bad), InvalidInputError, bad);
    }
  });

  it('saves and loads accounts per directory URL', async () => {
    const store = new CertStore(root);
    const url = 'https://localhost:14000/dir';
    assert.equal(await store.loadAccount(url), undefined);
    await store.saveAccount(url, { keyPem: a.keyPem, url: 'https://localhost:14000/my-account/1' });
    assert.deepEqual(await store.loadAccount(url), { keyPem: a.keyPem, url: 'https://localhost:14000/my-account/1' });
    assert.equal(await store.loadAccount('https://localhost:14000/other'), undefined);
    const hostDir = join(root, 'accounts', 'localhost_14000');
    const [hashDir] = await readdir(hostDir);
    assert.ok(hashDir !== undefined && /^[0-9a-f]{12}$/.test(hashDir));
    assert.equal(await mode(join(hostDir, hashDir, 'account.key')), 0o600);
    assert.equal(await mode(join(hostDir, hashDir)), 0o700);
  });
});

describe('writeFileAtomic', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'leec-atomic-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('replaces content, sets the mode and leaves no .tmp files', async () => {
    const file = join(dir, 'f.pem');
    await writeFile(file, 'old');
    await writeFileAtomic(file, 'new content', 0o600);
    await writeFileAtomic(file, new Uint8Array([1, 2, 3]), 0o600);
    assert.deepEqual(await readFile(file), Buffer.from([1, 2, 3]));
    assert.equal(await mode(file), 0o600);
    assert.deepEqual(await readdir(dir), ['f.pem']);
  });

  it('removes the temp file on failure', async () => {
    // Renaming a file over a non-empty directory fails after the temp file was written.
    const target = join(dir, 'sub');
    await mkdir(join(target, 'inner'), { recursive: true });
    await assert.rejects(writeFileAtomic(target, 'data', 0o644));
    assert.deepEqual((await readdir(dir)).filter((n) => n.endsWith('.tmp')), []);
    assert.ok((await stat(target)).isDirectory());
  });
});
