/**
 * A table-driven suite over names and options, against the scripted fake ACME CA over plain HTTP on
 * 127.0.0.1 (allowInsecureLoopback). Every bad row must reject with a typed error, a stable `code` and
 * `step === 'input'`, and no request may reach the CA (its call log is snapshotted around each row).
 * Valid but unusual names are obtained for real, and the exact identifiers of the newOrder JWS payload,
 * and the CSR the CA was finalized with (CN, SAN order), are asserted.
 *
 * The fake CA serves a fixed chain whose key is not the agent's, which the store refuses; so its
 * download is scripted to sign the order's own CSR with a test CA made here (openssl x509 -req).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import type forge from 'node-forge';
import { asn1 } from '../../src/crypto/forge-asn1.js';
import { FakeAcmeServer, type Call } from '../support/fake-acme-server.js';
import { Supervisor, type ObtainOptions } from '../../src/supervisor.js';
import { ErrorCode, InvalidInputError, LeecError } from '../../src/errors.js';
import { normalizeNames, MAX_NAMES } from '../../src/names.js';
import type { SupervisorOptions } from '../../src/options.js';
import type { ObtainOutcome } from '../../src/certificate-result.js';

type Asn1 = forge.asn1.Asn1;
type ErrorClass = new (...args: never[]) => LeecError;

// ------------------------------------------------------------------ name fixtures

/** `n` characters of valid LDH labels (at most 63 each) ending in `.test`. */
function nameOfLength(n: number, fill = 'a'): string {
  const tail = '.test';
  const labels: string[] = [];
  let rest = n - tail.length;
  while (rest > 0) {
    let len = Math.min(63, rest);
    if (rest - len === 1) len -= 1; // never leave just the dot: that would be an empty label
    labels.push(fill.repeat(len));
    rest -= len + 1;
  }
  const out = labels.join('.') + tail;
  assert.equal(out.length, n, `fixture ${out} is ${out.length} long, wanted ${n}`);
  return out;
}

const NAME_254 = nameOfLength(254);
const NAME_253 = nameOfLength(253, 'b');
const NAME_70 = `${'x'.repeat(52)}.long.example.test`; // 70 characters, labels of 52, 4, 7, 4
const NAME_64 = `${'y'.repeat(48)}.cn.example.test`; // 64 characters: the longest a CN may be
const LABEL_64 = `${'c'.repeat(64)}.example.test`;
const LABEL_63 = `${'d'.repeat(63)}.example.test`;
const HUNDRED_AND_ONE = Array.from({ length: MAX_NAMES + 1 }, (_, i) => `n${i}.example.test`);

// ------------------------------------------------------------------ CSR parsing (two independent readers)

interface CsrView {
  subject: Array<{ oid: string; value: string }>;
  san: string[];
}

const OID_CN = '2.5.4.3';
const OID_EXT_REQUEST = '1.2.840.113549.1.9.14';
const OID_SAN = '2.5.29.17';

function children(a: Asn1 | undefined): Asn1[] {
  assert.ok(a !== undefined && Array.isArray(a.value), 'constructed ASN.1 value expected');
  return a.value as Asn1[];
}

function ipText(bytes: Buffer): string {
  if (bytes.length === 4) return [...bytes].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** node-forge's ASN.1 reader: the subject's attributes and the requested subjectAltName, in order. */
function parseCsr(der: Buffer): CsrView {
  const csr = asn1.fromDer(der.toString('binary'));
  const info = children(csr)[0];
  const [, subject, , attributes] = children(info);
  const subj = children(subject).flatMap((rdn) =>
    children(rdn).map((atv) => {
      const [oid, value] = children(atv);
      return { oid: asn1.derToOid(oid!.value as string), value: Buffer.from(value!.value as string, 'binary').toString('utf8') };
    }),
  );
  const san: string[] = [];
  for (const attr of children(attributes)) {
    const [oid, values] = children(attr);
    if (asn1.derToOid(oid!.value as string) !== OID_EXT_REQUEST) continue;
    for (const ext of children(children(values)[0])) {
      const parts = children(ext);
      if (asn1.derToOid(parts[0]!.value as string) !== OID_SAN) continue;
      const octets = parts[parts.length - 1]!.value as string;
      for (const gn of children(asn1.fromDer(octets))) {
        const raw = Buffer.from(gn.value as string, 'binary');
        if (gn.type === 2) san.push(raw.toString('latin1'));
        else if (gn.type === 7) san.push(ipText(raw));
        else san.push(`?${gn.type}`);
      }
    }
  }
  return { subject: subj, san };
}

/** openssl's reading of the same CSR: the subject line, the SAN list in order, and the self-signature. */
function opensslCsr(der: Buffer): { subjectLine: string; san: string[]; verified: boolean } {
  const r = spawnSync('openssl', ['req', '-inform', 'DER', '-noout', '-subject', '-text', '-verify', '-nameopt', 'RFC2253'], { input: der, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const subjectLine = /^subject=(.*)$/m.exec(r.stdout)?.[1]?.trim() ?? '<none>';
  const sanLine = /X509v3 Subject Alternative Name:\s*\n\s*(.*)/.exec(r.stdout)?.[1] ?? '';
  const san = sanLine
    .split(', ')
    .filter(Boolean)
    .map((s) => (s.startsWith('IP Address:') && s.includes(':', 11) ? new URL(`http://[${s.slice(11)}]/`).hostname.slice(1, -1) : s.replace(/^(DNS|IP Address):/, '').toLowerCase()));
  return { subjectLine, san, verified: /verify OK/.test(r.stdout + r.stderr) };
}

// ------------------------------------------------------------------ a CA that signs whatever CSR was finalized

interface TestCa {
  dir: string;
  certPem: string;
  sign(csrDer: Buffer): string;
}

/**
 * Signs a CSR as Let's Encrypt (Boulder) does: the subject CN is the CSR's CN, else the first SAN of at
 * most 64 characters, else there is none (a CN-less leaf); the SAN is copied from the CSR.
 */
function makeTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'leec-table-ca-'));
  const quiet = { stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'], encoding: 'utf8' as const };
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'ca.key'),
    '-out', join(dir, 'ca.pem'), '-subj', '/CN=leec table test CA', '-days', '30',
  ], quiet);
  const certPem = execFileSync('openssl', ['x509', '-in', join(dir, 'ca.pem')], quiet);
  let serial = 1;
  return {
    dir,
    certPem,
    sign(csrDer) {
      const view = parseCsr(csrDer);
      const cn = view.subject.find((a) => a.oid === OID_CN)?.value ?? view.san.find((n) => n.length <= 64);
      const csrPath = join(dir, `req-${serial}.der`);
      writeFileSync(csrPath, csrDer);
      const leaf = execFileSync('openssl', [
        'x509', '-req', '-inform', 'DER', '-in', csrPath, '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'),
        '-days', '30', '-copy_extensions', 'copyall', '-set_serial', String(serial++), ...(cn === undefined ? [] : ['-subj', `/CN=${cn}`]),
      ], quiet);
      return leaf + certPem;
    },
  };
}

// ------------------------------------------------------------------ the suite

describe('bad input table: names and options against a fake ACME CA', () => {
  let ca: FakeAcmeServer;
  let testCa: TestCa;
  let sup: Supervisor;
  let storeDir: string;
  const extraDirs: string[] = [];

  const baseOptions = (): SupervisorOptions => ({
    directoryUrl: ca.directoryUrl,
    allowInsecureLoopback: true,
    http01: { mode: 'embedded' },
    keyType: 'ec256',
    storeDir,
    pollInitialMs: 5,
  });

  before(async () => {
    storeDir = mkdtempSync(join(tmpdir(), 'leec-table-store-'));
    testCa = makeTestCa();
    ca = await FakeAcmeServer.start();
    // The download signs the CSR of the order it belongs to (`/cert/<id>` is order `<id>`).
    ca.script('download', {
      times: Infinity,
      body: () => {
        const last = ca.callsTo('download').at(-1);
        const id = last?.path.split('/').pop() ?? '';
        const csr = ca.csrOf(`${ca.url}/order/${id}`);
        assert.ok(csr, `no CSR for order ${id}`);
        return testCa.sign(csr);
      },
    });
    sup = await Supervisor.start(baseOptions());
  });
  after(async () => {
    await sup?.shutdown();
    await ca?.close();
    rmSync(storeDir, { recursive: true, force: true });
    if (testCa) rmSync(testCa.dir, { recursive: true, force: true });
    for (const d of extraDirs) rmSync(d, { recursive: true, force: true });
  });

  /** Runs `act`, which must reject with `cls`/`code` at step input, and checks no request reached the CA. */
  async function refusedLocally(
    act: () => Promise<unknown>,
    want: { cls?: ErrorClass; code: string; data?: Record<string, unknown> },
  ): Promise<LeecError> {
    const calls = ca.calls.length;
    let caught: unknown;
    await assert.rejects(act(), (e: unknown) => {
      caught = e;
      return true;
    });
    const err = caught as LeecError;
    assert.ok(err instanceof (want.cls ?? InvalidInputError), `expected ${(want.cls ?? InvalidInputError).name}, got ${String(err)}`);
    assert.equal(err.code, want.code, err.message);
    assert.equal(err.step, 'input', err.message);
    for (const [k, v] of Object.entries(want.data ?? {})) assert.deepEqual(err.data[k], v, `data.${k} of ${err.message}`);
    // Nothing was started that could send a request a moment later either.
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(ca.calls.length, calls, `requests reached the CA: ${ca.calls.slice(calls).map((c) => `${c.method} ${c.path}`).join(', ')}`);
    assert.deepEqual(sup.status(), [], 'no job was registered');
    return err;
  }

  describe('bad names: obtainCertificate refuses them before any request', () => {
    interface NameRow {
      what: string;
      domain: unknown;
      opts?: ObtainOptions;
      code: string;
      /** The (normalised) name the error names in `data.name`. */
      name?: string;
      data?: Record<string, unknown>;
      todo?: string;
    }
    const rows: NameRow[] = [
      { what: 'an empty name', domain: '', code: ErrorCode.invalidDomain, name: '' },
      { what: 'a name of blanks (empty once trimmed)', domain: '   ', code: ErrorCode.invalidDomain, name: '' },
      { what: 'a name of 254 characters', domain: NAME_254, code: ErrorCode.invalidDomain, name: NAME_254 },
      { what: 'a label of 64 characters', domain: LABEL_64, code: ErrorCode.invalidDomain, name: LABEL_64 },
      { what: 'an underscore', domain: 'under_score.example.test', code: ErrorCode.invalidDomain, name: 'under_score.example.test' },
      { what: 'a space inside', domain: 'has space.example.test', code: ErrorCode.invalidDomain, name: 'has space.example.test' },
      { what: 'a leading hyphen', domain: '-lead.example.test', code: ErrorCode.invalidDomain, name: '-lead.example.test' },
      { what: 'a trailing hyphen', domain: 'trail-.example.test', code: ErrorCode.invalidDomain, name: 'trail-.example.test' },
      { what: 'an empty label', domain: 'a..example.test', code: ErrorCode.invalidDomain, name: 'a..example.test' },
      { what: 'a single label', domain: 'localhost', code: ErrorCode.invalidDomain, name: 'localhost' },
      { what: 'an all-numeric last label', domain: 'example.123', code: ErrorCode.invalidDomain, name: 'example.123' },
      { what: '`*.` with http-01', domain: '*.Example.TEST', code: ErrorCode.wildcardNeedsDns01, name: '*.example.test' },
      { what: 'a wildcard that is not leftmost', domain: 'www.*.example.test', code: ErrorCode.invalidDomain, name: 'www.*.example.test' },
      { what: 'a partial-label wildcard', domain: 'w*.example.test', code: ErrorCode.invalidDomain, name: 'w*.example.test' },
      {
        what: 'a bad name among the SANs (the good primary is not ordered either)',
        domain: 'good.example.test',
        opts: { sans: ['fine.example.test', 'Bad_Name.example.test'] },
        code: ErrorCode.invalidDomain,
        name: 'bad_name.example.test',
      },
      {
        what: `${MAX_NAMES + 1} distinct names`,
        domain: HUNDRED_AND_ONE[0],
        opts: { sans: HUNDRED_AND_ONE.slice(1) },
        code: ErrorCode.invalidDomain,
        name: HUNDRED_AND_ONE[0],
        data: { reason: 'too many names', count: MAX_NAMES + 1 },
      },
      { what: 'a name that is not a string', domain: 42, code: ErrorCode.invalidDomain, name: '42' },
      { what: 'SANs that are not an array', domain: 'ok.example.test', opts: { sans: 'a.example.test' as never }, code: ErrorCode.invalidDomain },
      {
        what: 'an unknown key type',
        domain: 'ok.example.test',
        opts: { keyType: 'rsa1024' as never },
        code: ErrorCode.invalidKeyType,
        data: { keyType: 'rsa1024' },
      },
      {
        // normalizeName drops ONE trailing dot and validateName ignores one more, so "example.test.."
        // becomes the identifier "example.test." and is sent to the CA (and is not de-duplicated
        // against "example.test").
        what: 'two trailing dots',
        domain: 'dots.example.test..',
        code: ErrorCode.invalidDomain,
      },
    ];

    for (const row of rows) {
      it(`${row.what} → ${row.code}`, row.todo === undefined ? {} : { todo: row.todo }, async () => {
        const data: Record<string, unknown> = { ...row.data };
        if (row.name !== undefined) data.name = row.name;
        await refusedLocally(() => sup.obtainCertificate(row.domain as string, row.opts), { code: row.code, data });
      });
    }

    it('a bad name in async (callback) mode reports a failure outcome with the same code, and no request', async () => {
      const calls = ca.calls.length;
      const outcome = await new Promise<ObtainOutcome>((resolve) => {
        assert.equal(sup.obtainCertificate('no_underscores.example.test', {}, resolve), 'async');
      });
      assert.equal(outcome.status, 'failure');
      assert.ok(outcome.status === 'failure' && outcome.error instanceof InvalidInputError);
      assert.equal(outcome.status === 'failure' && outcome.error.code, ErrorCode.invalidDomain);
      assert.equal(ca.calls.length, calls);
    });

    it('an IP literal with dns-01 → ERR_INVALID_DOMAIN (RFC 8738 §7)', () => {
      // The Supervisor has no dns-01 yet (ObtainOptions has no challenge type; every order is http-01),
      // so the name check the supervisor runs first is called directly with dns-01.
      const calls = ca.calls.length;
      for (const ip of ['192.0.2.1', '2001:DB8::1', '[2001:db8::1]']) {
        assert.throws(
          () => normalizeNames(ip, [], { challenge: 'dns-01' }),
          (e: unknown) =>
            e instanceof InvalidInputError && e.code === ErrorCode.invalidDomain && e.step === 'input' &&
            (e.data.name === '192.0.2.1' || e.data.name === '2001:db8::1'),
        );
        assert.deepEqual(normalizeNames(ip, [], { challenge: 'http-01' }).length, 1, 'the same IP is fine with http-01');
      }
      assert.throws(() => normalizeNames('ok.example.test', ['192.0.2.7'], { challenge: 'dns-01' }), { code: ErrorCode.invalidDomain });
      assert.equal(ca.calls.length, calls);
    });
  });

  describe('bad options: Supervisor.start refuses them before any request', () => {
    let listener: net.Server | undefined;
    let listenerConnections = 0;
    let nonLoopbackUrl: string;

    before(async () => {
      // A listener on this machine's own non-loopback address, if it has one: an http:// directory
      // there must be refused without even a connection.
      const addr = Object.values(networkInterfaces())
        .flat()
        .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;
      if (addr === undefined) {
        nonLoopbackUrl = 'http://acme.example.test/dir';
        return;
      }
      listener = net.createServer((s) => {
        listenerConnections += 1;
        s.destroy();
      });
      await new Promise<void>((r) => listener!.listen(0, addr, r));
      nonLoopbackUrl = `http://${addr}:${(listener.address() as net.AddressInfo).port}/dir`;
    });
    after(() => listener?.close());

    const rows: Array<{ what: string; opts: () => Partial<SupervisorOptions>; code: string; data?: () => Record<string, unknown> }> = [
      {
        what: 'an http:// directory on a non-loopback host, even with allowInsecureLoopback',
        opts: () => ({ directoryUrl: nonLoopbackUrl, allowInsecureLoopback: true }),
        code: ErrorCode.invalidDirectoryUrl,
        data: () => ({ directoryUrl: nonLoopbackUrl }),
      },
      {
        what: 'an http:// directory on a non-loopback name, even with allowInsecureLoopback',
        opts: () => ({ directoryUrl: 'http://acme.example.test/dir', allowInsecureLoopback: true }),
        code: ErrorCode.invalidDirectoryUrl,
      },
      {
        what: 'an http:// directory on 127.0.0.1 without allowInsecureLoopback (this suite’s own CA)',
        opts: () => ({ directoryUrl: ca.directoryUrl, allowInsecureLoopback: undefined }),
        code: ErrorCode.invalidDirectoryUrl,
        data: () => ({ directoryUrl: ca.directoryUrl }),
      },
      {
        what: 'an http:// directory on localhost with allowInsecureLoopback: false',
        opts: () => ({ directoryUrl: ca.directoryUrl.replace('127.0.0.1', 'localhost'), allowInsecureLoopback: false }),
        code: ErrorCode.invalidDirectoryUrl,
      },
      {
        what: 'an unknown key type',
        opts: () => ({ keyType: 'ed25519' as never }),
        code: ErrorCode.invalidKeyType,
        data: () => ({ keyType: 'ed25519' }),
      },
      {
        what: 'a contact that is not mailto: (a bare address)',
        opts: () => ({ contact: ['admin@example.test'] }),
        code: ErrorCode.invalidOption,
        data: () => ({ contact: 'admin@example.test' }),
      },
      {
        what: 'a contact that is not mailto: (an https URL)',
        opts: () => ({ contact: ['mailto:ok@example.test', 'https://example.test/contact'] }),
        code: ErrorCode.invalidOption,
        data: () => ({ contact: 'https://example.test/contact' }),
      },
      {
        what: 'a contact that is a string, not an array',
        opts: () => ({ contact: 'mailto:admin@example.test' as never }),
        code: ErrorCode.invalidOption,
      },
    ];

    for (const row of rows) {
      it(`${row.what} → ${row.code}`, async () => {
        const dir = mkdtempSync(join(tmpdir(), 'leec-table-opt-'));
        extraDirs.push(dir);
        const opts = { ...baseOptions(), storeDir: dir, ...row.opts() };
        if (opts.allowInsecureLoopback === undefined) delete opts.allowInsecureLoopback;
        await refusedLocally(() => Supervisor.start(opts), { code: row.code, data: row.data?.() ?? {} });
        assert.equal(listenerConnections, 0, 'the non-loopback listener saw a connection');
      });
    }

    it('an http:// directory on loopback with allowInsecureLoopback works (127.0.0.1 and localhost)', async () => {
      for (const directoryUrl of [ca.directoryUrl, ca.directoryUrl.replace('127.0.0.1', 'localhost')]) {
        const dir = mkdtempSync(join(tmpdir(), 'leec-table-ok-'));
        extraDirs.push(dir);
        const dirCalls = ca.count('directory');
        const s = await Supervisor.start({ ...baseOptions(), directoryUrl, storeDir: dir });
        try {
          assert.equal(ca.count('directory'), dirCalls + 1);
          assert.match(s.accountUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/acct\/\d+$/);
        } finally {
          await s.shutdown();
        }
      }
    });
  });

  describe('valid but unusual names are normalised, in order', () => {
    interface Sent {
      identifiers: Array<{ type: string; value: string }>;
      csr: Buffer;
      calls: Call[];
    }

    /** Obtains, and returns what the CA saw: the newOrder identifiers and the finalized CSR. */
    async function obtainAndCapture(domain: string, opts?: ObtainOptions): Promise<Sent & { names: string[]; fullchainPem: string }> {
      const from = ca.calls.length;
      const r = await sup.obtainCertificate(domain, opts);
      const calls = ca.calls.slice(from);
      const orders = calls.filter((c) => c.endpoint === 'newOrder');
      assert.equal(orders.length, 1, 'exactly one newOrder');
      const payload = orders[0]!.payload as { identifiers: Array<{ type: string; value: string }> };
      const finalizes = calls.filter((c) => c.endpoint === 'finalize');
      assert.equal(finalizes.length, 1, 'exactly one finalize');
      const orderId = finalizes[0]!.path.split('/').pop();
      const csr = ca.csrOf(`${ca.url}/order/${orderId}`);
      assert.ok(csr, 'the CA kept the CSR');
      assert.equal((finalizes[0]!.payload as { csr: string }).csr, csr.toString('base64url'));
      return { identifiers: payload.identifiers, csr, calls, names: r.names, fullchainPem: r.fullchainPem };
    }

    const dns = (value: string): { type: string; value: string } => ({ type: 'dns', value });

    function assertCsr(csr: Buffer, cn: string | undefined, san: string[]): void {
      const forgeView = parseCsr(csr);
      assert.deepEqual(forgeView.subject, cn === undefined ? [] : [{ oid: OID_CN, value: cn }], 'CSR subject');
      assert.deepEqual(forgeView.san, san, 'CSR subjectAltName, in order');
      const o = opensslCsr(csr);
      assert.ok(o.verified, 'openssl verifies the CSR self-signature');
      assert.equal(o.subjectLine, cn === undefined ? '' : `CN=${cn}`, 'openssl subject');
      assert.deepEqual(o.san, san, 'openssl SAN order');
    }

    it('case, a trailing dot, a U-label and a duplicate: WWW.Example.TEST + example.test. + bücher.example.test + www.example.test', async () => {
      const sent = await obtainAndCapture('WWW.Example.TEST', { sans: ['example.test.', 'bücher.example.test', 'www.example.test'] });
      const want = ['www.example.test', 'example.test', 'xn--bcher-kva.example.test'];
      assert.deepEqual(sent.identifiers, want.map(dns));
      assert.deepEqual(sent.names, want);
      assertCsr(sent.csr, 'www.example.test', want);
      // Each identifier got exactly one challenge answer.
      assert.equal(sent.calls.filter((c) => c.endpoint === 'challenge').length, 3);
    });

    it('duplicates after normalisation keep the first occurrence (the primary stays first)', async () => {
      const sent = await obtainAndCapture('Dup.Example.Test', {
        sans: ['b.example.test', 'DUP.example.test.', ' b.EXAMPLE.test ', 'a.example.test', 'xn--bcher-kva.dup.example.test', 'Bücher.Dup.Example.Test.'],
      });
      const want = ['dup.example.test', 'b.example.test', 'a.example.test', 'xn--bcher-kva.dup.example.test'];
      assert.deepEqual(sent.identifiers, want.map(dns));
      assertCsr(sent.csr, 'dup.example.test', want);
    });

    it('a first name of 70 characters: the CSR has no CN and every name in its SAN', async () => {
      assert.equal(NAME_70.length, 70);
      const sent = await obtainAndCapture(NAME_70.toUpperCase(), { sans: ['short.example.test', `${NAME_70}.`] });
      const want = [NAME_70, 'short.example.test'];
      assert.deepEqual(sent.identifiers, want.map(dns));
      assertCsr(sent.csr, undefined, want);
      // The test CA, like Let's Encrypt, took the CN from the first SAN short enough for one.
      const leaf = new X509Certificate(sent.fullchainPem);
      assert.equal(leaf.subject, 'CN=short.example.test');
      assert.equal(leaf.subjectAltName, want.map((n) => `DNS:${n}`).join(', '));
    });

    it('a first name of exactly 64 characters still gets a CN', async () => {
      assert.equal(NAME_64.length, 64);
      const sent = await obtainAndCapture(NAME_64, { sans: ['other.example.test'] });
      assert.deepEqual(sent.identifiers, [NAME_64, 'other.example.test'].map(dns));
      assertCsr(sent.csr, NAME_64, [NAME_64, 'other.example.test']);
    });

    it('a label of exactly 63 characters is accepted', async () => {
      const sent = await obtainAndCapture(LABEL_63, { sans: ['label63.example.test'] });
      assert.deepEqual(sent.identifiers, [dns(LABEL_63), dns('label63.example.test')]);
      assertCsr(sent.csr, undefined, [LABEL_63, 'label63.example.test']);
    });

    it(
      'every name longer than 64 characters: the CA issues a leaf with an empty subject, which is accepted',
      async () => {
        const sent = await obtainAndCapture(NAME_70);
        assertCsr(sent.csr, undefined, [NAME_70]);
        assert.equal(new X509Certificate(sent.fullchainPem).subject, undefined);
      },
    );

    it('IP literals (RFC 8738) become ip identifiers in RFC 5952 form, as SANs', async () => {
      const sent = await obtainAndCapture('ips.example.test', { sans: ['192.0.2.10', '[2001:DB8:0:0::10]', '2001:db8::10'] });
      assert.deepEqual(sent.identifiers, [dns('ips.example.test'), { type: 'ip', value: '192.0.2.10' }, { type: 'ip', value: '2001:db8::10' }]);
      assertCsr(sent.csr, 'ips.example.test', ['ips.example.test', '192.0.2.10', '2001:db8::10']);
    });

    it(`${MAX_NAMES + 1} entries with one duplicate are ${MAX_NAMES} names: accepted, in order`, async () => {
      const names = Array.from({ length: MAX_NAMES }, (_, i) => `m${i}.many.example.test`);
      const sent = await obtainAndCapture(names[0]!, { sans: [...names.slice(1), names[0]!.toUpperCase()] });
      assert.deepEqual(sent.identifiers, names.map(dns));
      assertCsr(sent.csr, names[0], names);
    });

    it(
      'a name of exactly 253 characters is valid and is obtained and stored',
      async () => {
      assert.equal(NAME_253.length, 253);
      const sent = await obtainAndCapture(NAME_253);
      assert.deepEqual(sent.identifiers, [dns(NAME_253)]);
      assertCsr(sent.csr, undefined, [NAME_253]);
    },
    );

    it(
      'an IPv6 literal as the first name is obtained and stored',
      async () => {
      const sent = await obtainAndCapture('2001:DB8::20', { sans: ['v6.example.test'] });
      assert.deepEqual(sent.identifiers, [{ type: 'ip', value: '2001:db8::20' }, dns('v6.example.test')]);
      assertCsr(sent.csr, '2001:db8::20', ['2001:db8::20', 'v6.example.test']);
    },
    );
  });
});
