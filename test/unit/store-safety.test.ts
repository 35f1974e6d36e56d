/**
 * Safety tests of the certificate store (the "storage safety" spec): private keys 0600 from the
 * moment they are opened, directories 0700, no temp files left, mismatched keys refused without
 * touching the good set, a save failing midway leaving the previous set served, and the stable
 * paths staying valid while versions switch. Certificates come from the openssl CLI.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { lstat, mkdir, open, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, StoreError } from '../../src/errors.js';
import { writeFileAtomic } from '../../src/store/atomic-write.js';
import { CertStore, type CertificateFiles } from '../../src/store/cert-store.js';
import { selfSigned, type Pair } from '../support/self-signed.js';


function filesFor(domain: string, c: Pair, chainPem: string, csrPem?: string): CertificateFiles {
  const f: CertificateFiles = {
    domain,
    names: [domain],
    keyType: 'ec256',
    certPem: c.certPem,
    chainPem,
    fullchainPem: c.certPem + chainPem,
    keyPem: c.keyPem,
    notBefore: '2025-01-01T00:00:00.000Z',
    notAfter: '2025-04-01T00:00:00.000Z',
  };
  if (csrPem !== undefined) f.csrPem = csrPem;
  return f;
}

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

/** Every entry under `dir`, not following links: kind, mode, link target or bytes. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const r = rel === '' ? name : join(rel, name);
      const full = join(dir, r);
      const st = await lstat(full);
      if (st.isSymbolicLink()) out.set(r, `link -> ${await readlink(full)}`);
      else if (st.isDirectory()) {
        out.set(r, `dir ${(st.mode & 0o777).toString(8)}`);
        await walk(r);
      } else out.set(r, `file ${(st.mode & 0o777).toString(8)} ${(await readFile(full)).toString('base64')}`);
    }
  };
  await walk('');
  return out;
}

function tempNames(snap: Map<string, string>): string[] {
  return [...snap.keys()].filter((k) => basename(k).endsWith('.tmp'));
}

function versionsDir(root: string, domain: string): string {
  return join(root, 'certificates', '.versions', domain);
}

async function versionNames(root: string, domain: string): Promise<string[]> {
  return (await readdir(versionsDir(root, domain))).filter((n) => n.startsWith('v-')).sort();
}

function noKeyMaterial(err: unknown, pairs: Pair[]): void {
  const text = `${(err as Error).message} ${JSON.stringify(err)} ${String((err as Error).stack)}`;
  assert.ok(!text.includes('PRIVATE KEY'), 'no PEM key in the error');
  for (const p of pairs) {
    const body = p.keyPem.split('\n')[1] ?? '';
    assert.ok(body.length > 20 && !text.includes(body), 'no key bytes in the error');
  }
}

describe('store safety', () => {
  let base: string;
  let chainPem: string;
  let a: Pair;
  let b: Pair;
  let other: Pair;

  before(() => {
    base = mkdtempSync(join(tmpdir(), 'leec-store-safety-'));
    chainPem = selfSigned(base, 'issuer', 'Fake Issuer').certPem;
    a = selfSigned(base, 'a', 's.test');
    b = selfSigned(base, 'b', 's.test');
    other = selfSigned(base, 'other', 's.test');
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('keys are 0600 from the open, before their first byte, even with umask 0; directories 0700', { skip: !existsSync('/proc/self/fd') }, async () => {
    // Observe every FileHandle at its first call after open (writeFileAtomic's chmod, or the write):
    // its path (through /proc), mode and size at that moment.
    const probe = await open(join(base, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as Record<string, (...args: unknown[]) => Promise<unknown>>;
    await probe.close();
    const seen = new Map<string, { mode: number; size: number }>();
    const originals: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
    for (const m of ['chmod', 'writeFile', 'write']) {
      const orig = proto[m]!;
      originals[m] = orig;
      proto[m] = async function (this: { fd: number; stat(): Promise<{ mode: number; size: number }> }, ...args: unknown[]) {
        const path = await readlink(`/proc/self/fd/${this.fd}`);
        if (!seen.has(path)) {
          const st = await this.stat();
          seen.set(path, { mode: st.mode & 0o777, size: st.size });
        }
        return orig.apply(this, args);
      };
    }
    const oldMask = process.umask(0);
    const root = join(base, 'umask0');
    const store = new CertStore(root);
    try {
      await writeFileAtomic(join(base, 'plain.key'), a.keyPem, 0o600);
      await store.saveCertificate(filesFor('s.test', a, chainPem, 'CSR'));
    } finally {
      process.umask(oldMask);
      for (const [m, f] of Object.entries(originals)) proto[m] = f;
    }
    // writeFileAtomic writes through a temp file; a store version's files are new files in the version
    // directory (nothing reads it before the commit), written under their own names; LEEC's
    // <domain>.key is a hard link to privkey.pem (checked below), not a second write.
    const keyWrites = [...seen].filter(([p]) => /^\.plain\.key\..*\.tmp$/.test(basename(p)) || /^privkey\.pem$/.test(basename(p)));
    assert.equal(keyWrites.length, 2, 'the two key writes were observed');
    for (const [p, s] of keyWrites) assert.deepEqual(s, { mode: 0o600, size: 0 }, p);
    const certWrites = [...seen].filter(([p]) => /^(cert|fullchain)\.pem$/.test(basename(p)));
    assert.equal(certWrites.length, 2);
    for (const [p, s] of certWrites) assert.deepEqual(s, { mode: 0o644, size: 0 }, p);

    const p = store.paths('s.test');
    assert.equal(await modeOf(p.privkey), 0o600);
    assert.equal(await modeOf(p.leecKey), 0o600);
    assert.equal(await modeOf(join(base, 'plain.key')), 0o600);
    const [version] = await versionNames(root, 's.test');
    assert.ok(version !== undefined);
    for (const d of [
      root,
      join(root, 'certificates'),
      store.domainDir('s.test'),
      join(root, 'certificates', '.versions'),
      versionsDir(root, 's.test'),
      join(versionsDir(root, 's.test'), version),
    ]) {
      assert.equal(await modeOf(d), 0o700, d);
    }
  });

  it('stable paths are links through current; no temp files; one previous version kept', async () => {
    const root = join(base, 'layout');
    const store = new CertStore(root);
    await store.saveCertificate(filesFor('s.test', a, chainPem, 'CSR'));
    await store.saveCertificate(filesFor('s.test', b, chainPem));
    await store.saveCertificate(filesFor('s.test', a, chainPem, 'CSR'));
    const p = store.paths('s.test');
    assert.equal(p.privkey, join(root, 'certificates', 's.test', 'privkey.pem'));
    assert.equal(await readlink(p.privkey), '../.versions/s.test/current/privkey.pem');
    assert.equal(await readFile(p.privkey, 'utf8'), a.keyPem);
    assert.equal(await readFile(p.leecCsr, 'utf8'), 'CSR');
    const snap = await snapshot(root);
    assert.deepEqual(tempNames(snap), []);
    assert.equal((await versionNames(root, 's.test')).length, 2);
    // The domain directory holds the stable names only.
    assert.deepEqual((await readdir(store.domainDir('s.test'))).sort(), [
      'cert.pem', 'chain.pem', 'fullchain.pem', 'meta.json', 'privkey.pem', 's.test.crt', 's.test.csr', 's.test.key',
    ]);
    // A save without CSR drops the optional link instead of leaving it dangling.
    await store.saveCertificate(filesFor('s.test', b, chainPem));
    assert.equal(existsSync(p.leecCsr), false);
    assert.equal((await store.loadCertificate('s.test'))?.csrPem, undefined);
  });

  it('refuses a mismatched key or a fullchain for another leaf; the good set stays byte-identical', async () => {
    const root = join(base, 'mismatch');
    const store = new CertStore(root);
    await store.saveCertificate(filesFor('s.test', a, chainPem, 'CSR'));
    const before = await snapshot(root);
    const bad: CertificateFiles[] = [
      filesFor('s.test', { certPem: a.certPem, keyPem: b.keyPem }, chainPem),
      { ...filesFor('s.test', b, chainPem), fullchainPem: a.certPem + chainPem },
      { ...filesFor('s.test', b, chainPem), certPem: 'not a certificate' },
    ];
    for (const files of bad) {
      await assert.rejects(store.saveCertificate(files), (err: unknown) => {
        assert.ok(err instanceof StoreError);
        noKeyMaterial(err, [a, b]);
        return true;
      });
      assert.deepEqual(await snapshot(root), before);
    }
    const loaded = await store.loadCertificate('s.test');
    assert.equal(loaded?.keyPem, a.keyPem);
    assert.equal(loaded?.certPem, a.certPem);
  });

  it('a save failing midway (file size limit hit while writing the version) leaves the previous set served', async (t) => {
    // A child with RLIMIT_FSIZE of a few KB: the key and leaf fit, the oversized chain gets EFBIG.
    // This works as root too, unlike chmod-based injection.
    const sh = spawnSync('sh', ['-c', 'ulimit -f 8'], { encoding: 'utf8' });
    if (sh.status !== 0) {
      t.skip('no sh with ulimit -f');
      return;
    }
    const storeUrl = new URL('../../src/store/cert-store.js', import.meta.url).href;
    const script = `
      import { readFileSync } from 'node:fs';
      import { CertStore } from ${JSON.stringify(storeUrl)};
      const root = process.argv[1];
      const json = readFileSync(0, 'utf8');
      try {
        await new CertStore(root).saveCertificate(JSON.parse(json));
        process.stdout.write(JSON.stringify({ ok: true }));
      } catch (err) {
        process.stdout.write(JSON.stringify({ ok: false, name: err.name, code: err.code, data: err.data, text: err.message + ' ' + err.stack }));
      }`;
    const saveInChild = (root: string, files: CertificateFiles): { ok: boolean; name?: string; code?: string; data?: { cause?: string; path?: string }; text?: string } => {
      const r = spawnSync('sh', ['-c', 'ulimit -f 8; exec "$@"', 'sh', process.execPath, '--input-type=module', '-e', script, root], {
        encoding: 'utf8',
        input: JSON.stringify(files),
      });
      assert.equal(r.status, 0, `${String(r.error)} ${r.signal} ${r.stderr}`);
      return JSON.parse(r.stdout) as { ok: boolean; name?: string; code?: string; data?: { cause?: string; path?: string }; text?: string };
    };
    const bigChain = chainPem.repeat(Math.ceil(65536 / chainPem.length));
    const assertFailed = (r: ReturnType<typeof saveInChild>): void => {
      assert.equal(r.ok, false);
      assert.equal(r.name, 'StoreError');
      assert.equal(r.code, ErrorCode.store);
      assert.equal(r.data?.cause, 'EFBIG');
      // Midway: the key, LEEC key and leaf of the new version were written, then the chain failed.
      assert.match(String(r.data?.path), /[/\\]v-[0-9a-z]+-[0-9a-f]{8}[/\\]chain\.pem$/);
      assert.ok(!String(r.text).includes('PRIVATE KEY'));
    };

    // Versioned store: the tree, previous versions included, is exactly as before.
    const root = join(base, 'efbig');
    const store = new CertStore(root);
    await store.saveCertificate(filesFor('s.test', a, chainPem, 'CSR'));
    await store.saveCertificate(filesFor('s.test', a, chainPem, 'CSR'));
    const before = await snapshot(root);
    assert.deepEqual(saveInChild(root, filesFor('s.test', b, chainPem)), { ok: true }, 'small saves fit under the limit');
    const afterOk = await snapshot(root);
    await store.saveCertificate(filesFor('s.test', a, chainPem, 'CSR'));
    const good = await snapshot(root);
    assert.notDeepEqual(afterOk, before);
    assertFailed(saveInChild(root, filesFor('s.test', b, bigChain)));
    assert.deepEqual(await snapshot(root), good, 'nothing left of the failed save, nothing of the good set touched');
    const loaded = await store.loadCertificate('s.test');
    assert.equal(loaded?.keyPem, a.keyPem);
    assert.equal(await readFile(store.paths('s.test').privkey, 'utf8'), a.keyPem);

    // Flat layout of earlier versions (regular files, no .versions): the old set stays readable
    // at the same paths with the same bytes, and the next good save migrates it.
    const flatRoot = join(base, 'flat');
    const flat = new CertStore(flatRoot);
    const fp = flat.paths('s.test');
    await mkdir(flat.domainDir('s.test'), { recursive: true, mode: 0o700 });
    const flatFiles: Array<[string, string]> = [
      [fp.privkey, a.keyPem], [fp.leecKey, a.keyPem], [fp.cert, a.certPem], [fp.chain, chainPem],
      [fp.fullchain, a.certPem + chainPem], [fp.leecCrt, a.certPem + chainPem],
      [fp.meta, JSON.stringify({ domain: 's.test', names: ['s.test'], keyType: 'ec256', notBefore: 'x', notAfter: 'y', issuedAt: 'z' })],
    ];
    for (const [f, data] of flatFiles) await writeFile(f, data, { mode: 0o600 });
    assert.equal((await flat.loadCertificate('s.test'))?.keyPem, a.keyPem);
    assertFailed(saveInChild(flatRoot, filesFor('s.test', b, bigChain)));
    for (const [f, data] of flatFiles) assert.equal(await readFile(f, 'utf8'), data, f);
    assert.equal((await flat.loadCertificate('s.test'))?.keyPem, a.keyPem);
    await flat.saveCertificate(filesFor('s.test', b, chainPem));
    assert.ok((await lstat(fp.privkey)).isSymbolicLink());
    assert.equal(await readFile(fp.privkey, 'utf8'), b.keyPem);
    assert.equal((await flat.loadCertificate('s.test'))?.keyPem, b.keyPem);
    assert.deepEqual(tempNames(await snapshot(flatRoot)), []);
  });

  it('a save whose commit step fails leaves current and the versions unchanged', async () => {
    const root = join(base, 'commit-fail');
    const store = new CertStore(root);
    await store.saveCertificate(filesFor('s.test', a, chainPem));
    const p = store.paths('s.test');
    const current = await readlink(join(versionsDir(root, 's.test'), 'current'));
    const versions = await versionNames(root, 's.test');
    // Someone replaced a stable link by a non-empty directory: relinking it cannot succeed.
    await rm(p.chain);
    await mkdir(join(p.chain, 'inner'), { recursive: true });
    await assert.rejects(store.saveCertificate(filesFor('s.test', b, chainPem)), StoreError);
    assert.equal(await readlink(join(versionsDir(root, 's.test'), 'current')), current);
    assert.deepEqual(await versionNames(root, 's.test'), versions);
    assert.equal(await readFile(p.privkey, 'utf8'), a.keyPem);
    await rm(p.chain, { recursive: true });
    await store.saveCertificate(filesFor('s.test', b, chainPem));
    assert.equal((await store.loadCertificate('s.test'))?.keyPem, b.keyPem);
    assert.equal(await readFile(p.chain, 'utf8'), chainPem);
  });

  it('loadCertificate never returns a mismatched or foreign set', async () => {
    const root = join(base, 'tamper');
    const store = new CertStore(root);
    await store.saveCertificate(filesFor('s.test', a, chainPem));
    const vdir = versionsDir(root, 's.test');
    const current = await readlink(join(vdir, 'current'));
    await writeFile(join(vdir, current, 'privkey.pem'), other.keyPem);
    await assert.rejects(store.loadCertificate('s.test'), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, ErrorCode.keyMismatch);
      noKeyMaterial(err, [a, other]);
      return true;
    });
    await writeFile(join(vdir, current, 'privkey.pem'), a.keyPem);
    await writeFile(join(vdir, current, 'fullchain.pem'), other.certPem + chainPem);
    await assert.rejects(store.loadCertificate('s.test'), StoreError);
    await writeFile(join(vdir, current, 'fullchain.pem'), a.certPem + chainPem);
    assert.equal((await store.loadCertificate('s.test'))?.keyPem, a.keyPem);
    // `current` must name a version directory of its own store.
    await rm(join(vdir, 'current'));
    await symlink('../../../../outside', join(vdir, 'current'));
    await assert.rejects(store.loadCertificate('s.test'), StoreError);
  });

  it('stable paths stay readable and whole while versions switch', async () => {
    const root = join(base, 'switch');
    const store = new CertStore(root);
    const p = store.paths('s.test');
    await store.saveCertificate(filesFor('s.test', a, chainPem));
    const known = new Set([a.keyPem, b.keyPem, a.certPem, b.certPem, a.certPem + chainPem, b.certPem + chainPem]);
    let done = false;
    let reads = 0;
    const reader = (async () => {
      while (!done) {
        for (const f of [p.privkey, p.cert, p.fullchain]) {
          const text = await readFile(f, 'utf8'); // throws (and fails the test) on ENOENT
          assert.ok(known.has(text), `${f} is a whole file of a known set`);
          reads += 1;
        }
      }
    })();
    try {
      for (let i = 0; i < 30; i++) {
        const pair = i % 2 === 0 ? b : a;
        await store.saveCertificate(filesFor('s.test', pair, chainPem));
        const key = await readFile(p.privkey, 'utf8');
        const full = await readFile(p.fullchain, 'utf8');
        assert.equal(key, pair.keyPem);
        assert.ok(new X509Certificate(full).checkPrivateKey(createPrivateKey(key)));
      }
    } finally {
      done = true;
      await reader;
    }
    assert.ok(reads > 30, `reader read ${reads} files`);
    assert.equal((await versionNames(root, 's.test')).length, 2);
    assert.deepEqual(tempNames(await snapshot(root)), []);
  });

  it('concurrent saves through one store are serialized', async () => {
    const root = join(base, 'concurrent');
    const store = new CertStore(root);
    await Promise.all(Array.from({ length: 8 }, (_, i) => store.saveCertificate(filesFor('s.test', i % 2 === 0 ? a : b, chainPem))));
    const loaded = await store.loadCertificate('s.test');
    assert.equal(loaded?.keyPem, b.keyPem, 'the last save wins');
    assert.equal((await versionNames(root, 's.test')).length, 2);
    assert.deepEqual(tempNames(await snapshot(root)), []);
  });
});
