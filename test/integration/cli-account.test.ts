/**
 * `leec account register|show|update|rollover|deactivate` and `leec revoke`, run as child processes
 * against a real Pebble: RFC 8555 §7.3 (register, onlyReturnExisting lookup, contact update), §7.3.5
 * key rollover, §7.3.6 deactivation and §7.6 revocation by the account key and by the certificate key.
 * Bad input must end with exit 2, one stderr line, and no connection to the CA.
 */
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AcmeClient } from '../../src/acme/client.js';
import { fetchDirectory } from '../../src/acme/directory.js';
import { type AccountKey } from '../../src/acme/jws.js';
import { jwkThumbprint, toAccountKey } from '../../src/acme/account-key.js';
import { HttpTransport } from '../../src/acme/transport.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { AcmeProblemError } from '../../src/errors.js';
import { freePort } from '../../src/net/free-port.js';
import { startPebble, type PebbleInstance } from '../../src/pebble/pebble-server.js';
import { CertStore } from '../../src/store/cert-store.js';
import { FakeAcmeServer } from '../support/fake-acme-server.js';
import { selfSigned } from '../support/self-signed.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ERR = 'urn:ietf:params:acme:error:';
const T = { timeout: 60_000 };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LEEC_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function show(r: Run): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** The value of an aligned `  name   value` line of the human output. */
function field(r: Run, name: string): string | undefined {
  return new RegExp(`^  ${name}\\s+(.+)$`, 'm').exec(r.stdout)?.[1];
}

async function signingKey(pem: string): Promise<AccountKey> {
  const priv = createPrivateKey(pem);
  return toAccountKey(priv, createPublicKey(priv), 'ES256');
}

interface JsonAccount {
  url: string;
  status: string;
  contact: string[];
  orders?: string;
  keyFile: string;
  thumbprint: string;
  oldThumbprint?: string;
}

describe('leec account and leec revoke against Pebble', () => {
  let pebble: PebbleInstance;
  let httpPort: number;
  let dir: string;
  let store: string;
  let caFile: string;
  let conn: string[];
  let transport: HttpTransport;
  let keyFile: string;
  let accountUrl = '';

  const showJson = async (): Promise<JsonAccount> => {
    const r = await runCli(['account', 'show', ...conn, '--json']);
    assert.equal(r.code, 0, show(r));
    return JSON.parse(r.stdout) as JsonAccount;
  };

  /** `leec issue` for `domain` into the store (the account the store holds orders it). */
  const issue = async (domain: string, force: boolean): Promise<{ cert: string; key: string }> => {
    const r = await runCli([
      'issue', ...conn, '--domain', domain, '--http-port', String(httpPort), '--http-host', '127.0.0.1', '--key-type', 'ec256',
      ...(force ? ['--force'] : []),
    ]);
    assert.equal(r.code, 0, show(r));
    const certDir = path.join(store, 'certificates', domain);
    return { cert: path.join(certDir, 'cert.pem'), key: path.join(certDir, 'privkey.pem') };
  };

  before(async () => {
    httpPort = await freePort();
    pebble = await startPebble({ httpPort });
    dir = await mkdtemp(path.join(os.tmpdir(), 'leec-cli-account-'));
    store = path.join(dir, 'store');
    caFile = path.join(dir, 'pebble-ca.pem');
    await writeFile(caFile, pebble.caPem);
    conn = ['--directory', pebble.directoryUrl, '--ca-bundle', caFile, '--out', store];
    transport = new HttpTransport({ caPem: pebble.caPem, timeoutMs: 10_000 });
    keyFile = path.join(new CertStore(store).accountDir(pebble.directoryUrl), 'account.key');
  });
  after(async () => {
    transport?.close();
    await pebble?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('register creates the key (0600) and the account; running it again answers the same account', T, async () => {
    const r = await runCli(['account', 'register', ...conn, '--agree-tos', '--email', 'ops@example.test', '--email', 'dev@example.test']);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stderr, '', show(r));
    const m = /^account registered: (https:\/\/127\.0\.0\.1:\d+\/\S+)$/m.exec(r.stdout);
    assert.ok(m, show(r));
    accountUrl = m[1]!;
    assert.equal(field(r, 'status'), 'valid');
    assert.equal(field(r, 'contacts'), 'mailto:ops@example.test, mailto:dev@example.test');
    assert.equal(field(r, 'key'), keyFile);
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    const key = await signingKey(await readFile(keyFile, 'utf8'));
    assert.equal(field(r, 'thumbprint'), await jwkThumbprint(key.jwk));
    const terms = (await fetchDirectory(transport, pebble.directoryUrl)).meta?.termsOfService;
    if (terms !== undefined) assert.equal(field(r, 'terms'), `${terms} (agreed)`);
    assert.equal((await new CertStore(store).loadAccount(pebble.directoryUrl))?.url, accountUrl);

    const keyBefore = await readFile(keyFile, 'utf8');
    const again = await runCli(['account', 'register', ...conn, '--agree-tos', '--json']);
    assert.equal(again.code, 0, show(again));
    const j = JSON.parse(again.stdout) as JsonAccount & { keyCreated: boolean };
    assert.equal(j.url, accountUrl);
    assert.equal(j.keyCreated, false);
    assert.equal(await readFile(keyFile, 'utf8'), keyBefore, 'the key is kept');
  });

  it('show prints the same account; --json parses; update replaces the contacts', T, async () => {
    const r = await runCli(['account', 'show', ...conn]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`^account: ${escape(accountUrl)}$`, 'm'), show(r));
    assert.equal(field(r, 'status'), 'valid');
    const j = await showJson();
    assert.equal(j.url, accountUrl);
    assert.equal(j.status, 'valid');
    assert.deepEqual(j.contact, ['mailto:ops@example.test', 'mailto:dev@example.test']);
    assert.equal(j.keyFile, keyFile);
    if (j.orders !== undefined) assert.match(j.orders, /^https:\/\/127\.0\.0\.1:\d+\//);

    const u = await runCli(['account', 'update', ...conn, '--email', 'new@example.test']);
    assert.equal(u.code, 0, show(u));
    assert.equal(field(u, 'contacts'), 'mailto:new@example.test');
    assert.deepEqual((await showJson()).contact, ['mailto:new@example.test']);
  });

  it('rollover: a new thumbprint, the new key stored 0600, the old key refused by the CA', T, async () => {
    const oldPem = await readFile(keyFile, 'utf8');
    const oldKey = await signingKey(oldPem);
    const before = await showJson();
    const r = await runCli(['account', 'rollover', ...conn, '--json']);
    assert.equal(r.code, 0, show(r));
    const j = JSON.parse(r.stdout) as JsonAccount;
    assert.equal(j.url, accountUrl);
    assert.equal(j.oldThumbprint, before.thumbprint);
    assert.notEqual(j.thumbprint, before.thumbprint);
    const newPem = await readFile(keyFile, 'utf8');
    assert.notEqual(newPem, oldPem);
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    assert.equal(await jwkThumbprint((await signingKey(newPem)).jwk), j.thumbprint);
    const after = await showJson();
    assert.equal(after.url, accountUrl);
    assert.equal(after.thumbprint, j.thumbprint);

    // The CA no longer accepts the old key: not for a lookup, not under the account's kid.
    const directory = await fetchDirectory(transport, pebble.directoryUrl);
    const lookup = new AcmeClient({ directory, transport, accountKey: oldKey });
    await assert.rejects(lookup.newAccount({ onlyReturnExisting: true }), (e: unknown) => e instanceof AcmeProblemError && e.problem?.type === `${ERR}accountDoesNotExist`);
    await assert.rejects(new AcmeClient({ directory, transport, accountKey: oldKey, accountUrl }).getAccount(), AcmeProblemError);
  });

  it('a rollover killed after the CA took the new key: the next command adopts the kept key (account.key.next)', T, async () => {
    const pendingFile = `${keyFile}.next`;
    const oldPem = await readFile(keyFile, 'utf8');
    const before = await showJson();
    // What `account rollover` does up to its crash: the new key kept, keyChange accepted, account.key not yet replaced.
    const next = await generateKeyPair('ec256');
    await writeFile(pendingFile, next.privateKeyPem, { mode: 0o600 });
    const directory = await fetchDirectory(transport, pebble.directoryUrl);
    await new AcmeClient({ directory, transport, accountKey: await signingKey(oldPem), accountUrl }).keyChange(await signingKey(next.privateKeyPem));

    const after = await showJson();
    assert.equal(after.url, accountUrl, 'the same account, not a new one');
    assert.notEqual(after.thumbprint, before.thumbprint);
    assert.equal(await readFile(keyFile, 'utf8'), next.privateKeyPem, 'the kept key is now the stored key');
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    assert.equal(existsSync(pendingFile), false);
  });

  it('a rollover killed before the CA took the new key: the kept key is dropped, the stored one still works', T, async () => {
    const pendingFile = `${keyFile}.next`;
    const stored = await readFile(keyFile, 'utf8');
    const before = await showJson();
    await writeFile(pendingFile, (await generateKeyPair('ec256')).privateKeyPem, { mode: 0o600 });
    const after = await showJson();
    assert.equal(after.url, accountUrl);
    assert.equal(after.thumbprint, before.thumbprint);
    assert.equal(await readFile(keyFile, 'utf8'), stored);
    assert.equal(existsSync(pendingFile), false);
  });

  it('revoke by the account key, then by the certificate key; a second revocation exits 1 with alreadyRevoked', T, async () => {
    const first = await issue('revoke.example.test', false);
    const firstPem = await readFile(first.cert, 'utf8');
    const r = await runCli(['revoke', ...conn, '--cert', first.cert, '--reason', 'keyCompromise']);
    assert.equal(r.code, 0, show(r));
    assert.equal(field(r, 'store'), 'revoke.example.test: marked revoked, the next `leec issue` orders a new one');
    assert.match(r.stdout, /^revoked certificate [0-9A-F]+$/m, show(r));
    assert.equal(field(r, 'names'), 'revoke.example.test');
    assert.equal(field(r, 'reason'), '1 keyCompromise');
    assert.equal(field(r, 'signed by'), `account ${accountUrl}`);
    const again = await runCli(['revoke', ...conn, '--cert', first.cert]);
    assert.equal(again.code, 1, show(again));
    assert.equal(again.stdout, '');
    assert.match(again.stderr, /^leec: ERR_ACME_PROBLEM: HTTP 400 alreadyRevoked at revokeCert\b.*\n$/, show(again));

    // Without --force: the revoked certificate, though far from due, is not reused.
    const second = await issue('revoke.example.test', false);
    assert.notEqual(new X509Certificate(await readFile(second.cert, 'utf8')).serialNumber, new X509Certificate(firstPem).serialNumber);
    // Signed by the certificate's key (jwk): no account involved, the store is not even read.
    const byKey = await runCli(['revoke', ...conn, '--out', path.join(dir, 'empty-store'), '--cert', second.cert, '--key', second.key, '--reason', '4']);
    assert.equal(byKey.code, 0, show(byKey));
    assert.equal(field(byKey, 'reason'), '4 superseded');
    assert.equal(field(byKey, 'signed by'), "the certificate's key");
    assert.ok(!existsSync(path.join(dir, 'empty-store')), 'revoke --key wrote nothing');
    const byKeyAgain = await runCli(['revoke', ...conn, '--cert', second.cert, '--key', second.key]);
    assert.equal(byKeyAgain.code, 1, show(byKeyAgain));
    assert.match(byKeyAgain.stderr, /^leec: ERR_ACME_PROBLEM: HTTP 400 alreadyRevoked at revokeCert\b/, show(byKeyAgain));
  });

  it('deactivate --yes; afterwards show gets unauthorized from Pebble, and the key file is kept', T, async () => {
    const keyBefore = await readFile(keyFile, 'utf8');
    const r = await runCli(['account', 'deactivate', ...conn, '--yes']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`^account deactivated: ${escape(accountUrl)}$`, 'm'), show(r));
    assert.equal(field(r, 'status'), 'deactivated');
    // §7.3.6: Pebble 2.4.0 answers the onlyReturnExisting lookup of a deactivated account with 403 unauthorized.
    const s = await runCli(['account', 'show', ...conn]);
    assert.equal(s.code, 1, show(s));
    assert.equal(s.stdout, '');
    assert.match(s.stderr, /^leec: ERR_ACME_PROBLEM: HTTP 403 unauthorized at newAccount - .*deactivated \(the store's account is deactivated \(RFC 8555 §7\.3\.6\): move its account\.key aside, or use another --out, and run `leec account register`\)\n$/, show(s));
    assert.equal(await readFile(keyFile, 'utf8'), keyBefore);
  });
});

describe('leec account register with External Account Binding (RFC 8555 §7.3.4)', () => {
  it('without --eab-* the CA refuses (exit 1, externalAccountRequired); with them the account is valid', T, async (t) => {
    const macKey = 'szoz04GNsfXm0zFEY_rpa-1EbvMbFoo1FeXUtROe28Y'; // Pebble 2.4.0 wants it unpadded
    const pebble = await startPebble({ httpPort: await freePort(), externalAccountMACKeys: { 'kid-1': macKey } });
    t.after(() => pebble.stop());
    const dir = await mkdtemp(path.join(os.tmpdir(), 'leec-cli-eab-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, 'ca.pem'), pebble.caPem);
    const conn = ['--directory', pebble.directoryUrl, '--ca-bundle', path.join(dir, 'ca.pem'), '--out', path.join(dir, 'store')];
    const refused = await runCli(['account', 'register', ...conn, '--agree-tos']);
    assert.equal(refused.code, 1, show(refused));
    assert.match(refused.stderr, /^leec: ERR_ACME_PROBLEM: HTTP \d+ externalAccountRequired at newAccount\b.* \(this CA needs External Account Binding: run `leec account register --agree-tos --eab-kid KID --eab-hmac-key KEY` first\)\n$/, show(refused));
    const r = await runCli(['account', 'register', ...conn, '--agree-tos', '--eab-kid', 'kid-1', '--eab-hmac-key', `${macKey}=`, '--json']);
    assert.equal(r.code, 0, show(r));
    assert.ok(!r.stdout.includes(macKey) && !r.stderr.includes(macKey), 'the MAC key is never printed');
    const j = JSON.parse(r.stdout) as JsonAccount & { keyCreated: boolean };
    assert.equal(j.status, 'valid');
    assert.equal(j.keyCreated, false, 'the key made by the refused run is reused');
    assert.match(j.url, /^https:\/\/127\.0\.0\.1:\d+\//);
  });
});

describe('leec account rollover when the CA refuses the key change', () => {
  it('exits 1 with the problem and leaves the stored key file as it was', T, async (t) => {
    const ca = await FakeAcmeServer.start();
    t.after(() => ca.close());
    const dir = await mkdtemp(path.join(os.tmpdir(), 'leec-cli-rollover-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const conn = ['--directory', ca.directoryUrl, '--insecure-loopback', '--out', path.join(dir, 'store')];
    const reg = await runCli(['account', 'register', ...conn, '--agree-tos']);
    assert.equal(reg.code, 0, show(reg));
    assert.equal(field(reg, 'terms'), `${ca.url}/terms (agreed)`);
    const keyFile = field(reg, 'key')!;
    const keyBefore = await readFile(keyFile, 'utf8');
    // Every request the fake does not route (the key-change URL among them) gets this problem instead.
    ca.script('unknown', { problem: { type: `${ERR}unauthorized`, status: 403, detail: 'key change refused' } });
    const r = await runCli(['account', 'rollover', ...conn]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /^leec: ERR_ACME_PROBLEM: HTTP 403 unauthorized at keyChange - key change refused\n$/, show(r));
    assert.equal(ca.calls.filter((c) => c.method === 'POST' && c.path === '/key-change').length, 1);
    assert.equal(await readFile(keyFile, 'utf8'), keyBefore, 'the old key is kept');
    assert.deepEqual((await readdir(path.dirname(keyFile))).sort(), ['account.json', 'account.key'], 'no temp or new key file left');
    // And the stored key still signs for the account.
    const again = await runCli(['account', 'show', ...conn, '--json']);
    assert.equal(again.code, 0, show(again));
    assert.equal((JSON.parse(again.stdout) as JsonAccount).url, /^account registered: (\S+)$/m.exec(reg.stdout)?.[1]);
  });
});

describe('leec account / revoke: bad input fails with exit 2, one stderr line and no request', () => {
  it('refuses every case before connecting; the control run connects', T, async (t) => {
    const connections: net.Socket[] = [];
    // Every connection is counted; a request gets a plain 404, so that the control run below fails at once.
    const server = http.createServer((_req, res) => res.writeHead(404, { connection: 'close' }).end());
    server.on('connection', (s: net.Socket) => connections.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'leec-cli-account-bad-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const a = selfSigned(dir, 'a', 'a.example.test');
    selfSigned(dir, 'b', 'b.example.test');
    await mkdir(path.join(dir, 'store'));
    const conn = ['--directory', `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/dir`, '--insecure-loopback', '--out', path.join(dir, 'store')];
    const certA = path.join(dir, 'a.crt');
    assert.ok(a.certPem.includes('BEGIN CERTIFICATE'));
    const cases: Array<{ args: string[]; code: string; says: RegExp }> = [
      { args: ['account', 'register', ...conn, '--email', 'ops@example.test'], code: 'ERR_INVALID_OPTION', says: /--agree-tos is required/ },
      { args: ['account', 'register', ...conn, '--agree-tos', '--email', 'not-an-address'], code: 'ERR_INVALID_OPTION', says: /--email/ },
      { args: ['account', 'register', ...conn, '--agree-tos', '--eab-kid', 'kid-1'], code: 'ERR_INVALID_OPTION', says: /--eab-kid and --eab-hmac-key/ },
      { args: ['account', 'register', ...conn, '--agree-tos', '--eab-kid', 'kid-1', '--eab-hmac-key', 'not base64!'], code: 'ERR_INVALID_OPTION', says: /--eab-hmac-key must be/ },
      { args: ['account', 'show', ...conn], code: 'ERR_INVALID_OPTION', says: /no account key for .* run `leec account register` first/ },
      { args: ['account', 'show', '--directory', 'http://example.com/dir', '--out', path.join(dir, 'store')], code: 'ERR_INVALID_DIRECTORY_URL', says: /https/ },
      { args: ['account', 'show', ...conn, '--ca-bundle', path.join(dir, 'no-such.pem')], code: 'ERR_INVALID_OPTION', says: /--ca-bundle/ },
      { args: ['account', 'update', ...conn], code: 'ERR_INVALID_OPTION', says: /--email is required/ },
      { args: ['account', 'rollover', ...conn], code: 'ERR_INVALID_OPTION', says: /no account key/ },
      { args: ['account', 'deactivate', ...conn], code: 'ERR_INVALID_OPTION', says: /add --yes/ },
      { args: ['revoke', ...conn], code: 'ERR_INVALID_OPTION', says: /--cert is required/ },
      { args: ['revoke', ...conn, '--cert', path.join(dir, 'missing.pem')], code: 'ERR_INVALID_OPTION', says: /cannot read --cert .*ENOENT/ },
      { args: ['revoke', ...conn, '--cert', path.join(dir, 'a.key')], code: 'ERR_INVALID_OPTION', says: /no PEM certificate/ },
      { args: ['revoke', ...conn, '--cert', certA, '--key', path.join(dir, 'a.key'), '--reason', '7'], code: 'ERR_INVALID_OPTION', says: /7 is not a CRLReason/ },
      { args: ['revoke', ...conn, '--cert', certA, '--key', path.join(dir, 'a.key'), '--reason', 'compromised'], code: 'ERR_INVALID_OPTION', says: /not an RFC 5280 CRLReason/ },
      { args: ['revoke', ...conn, '--cert', certA, '--key', path.join(dir, 'a.key'), '--reason', '11'], code: 'ERR_INVALID_OPTION', says: /not an RFC 5280 CRLReason/ },
      { args: ['revoke', ...conn, '--cert', certA, '--key', path.join(dir, 'b.key')], code: 'ERR_INVALID_OPTION', says: /is not the private key of --cert/ },
      { args: ['revoke', ...conn, '--cert', certA, '--key', certA], code: 'ERR_INVALID_OPTION', says: /is not a PEM private key/ },
      { args: ['revoke', ...conn, '--cert', certA], code: 'ERR_INVALID_OPTION', says: /no account key/ },
      { args: ['account', 'frobnicate', ...conn], code: 'ERR_INVALID_OPTION', says: /unknown command/ },
    ];
    const runs = await Promise.all(cases.map((c) => runCli(c.args, 30_000)));
    for (const [i, r] of runs.entries()) {
      const c = cases[i]!;
      assert.equal(r.code, 2, `${c.args.join(' ')}\n${show(r)}`);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, `one stderr line for ${c.args.join(' ')}\n${show(r)}`);
      assert.match(lines[0]!, new RegExp(`^leec: ${c.code}: \\S`), show(r));
      assert.match(lines[0]!, c.says, show(r));
      assert.equal(r.stdout, '', show(r));
    }
    assert.equal(connections.length, 0, 'no bad-input run connected to the directory');
    assert.ok(!existsSync(path.join(dir, 'store', 'accounts')), 'no bad-input run wrote an account');
    // The control: a well-formed register does reach the directory, so zero above means something.
    const reached = await runCli(['account', 'register', ...conn, '--agree-tos'], 30_000);
    assert.equal(reached.code, 1, show(reached));
    assert.match(reached.stderr, /^leec: ERR_ACME_PROTOCOL: directory http:\/\/127\.0\.0\.1:\d+\/dir answered HTTP 404\n$/, show(reached));
    assert.ok(connections.length >= 1, 'the control run connected');
  });
});
