/**
 * End-to-end tests of the `leec` CLI (src/cli/), run as a child process like a user would: `leec demo`
 * against a real Pebble, `leec issue` against a Pebble started here (issue, reuse, --force), and bad
 * input that must fail with one stderr line before any network request.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/net/free-port.js';
import { startPebble, type PebbleInstance } from '../../src/pebble/pebble-server.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LEEC_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function show(r: Run): string {
  return `exit ${r.code} ${r.signal ?? ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

async function tempDir(t: { after(fn: () => Promise<void>): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `openssl verify` of a stored certificate against `rootFile`, the stored chain as untrusted intermediates. */
function opensslVerify(rootFile: string, certDir: string): string {
  return execFileSync(
    'openssl',
    ['verify', '-CAfile', rootFile, '-untrusted', path.join(certDir, 'chain.pem'), path.join(certDir, 'cert.pem')],
    { encoding: 'utf8' },
  ).trim();
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('leec demo --domains 3: issues (the wildcard one by dns-01), serves and verifies every name against the saved Pebble root', async (t) => {
  const out = await tempDir(t, 'leec-cli-demo-');
  const r = await runCli(['demo', '--domains', '3', '--out', out]);
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stderr, '', show(r));

  const certs = [
    { domain: 'shop.example.test', names: ['shop.example.test', 'www.shop.example.test'] },
    { domain: 'blog.example.test', names: ['blog.example.test'] },
    { domain: 'api.example.test', names: ['api.example.test'] },
    // The demo's wildcard: dns-01 through challtestsrv; the wildcard is verified with a name under it.
    { domain: 'wild.example.test', names: ['wild.example.test', '*.wild.example.test'] },
  ];
  const probe = (name: string): string => name.replace(/^\*\./, 'any-host.');
  for (const { domain, names } of certs) {
    // non-TTY progress: one line per state change, ending with done
    assert.match(r.stdout, new RegExp(`^\\[\\s*\\d+\\.\\d\\ds\\] ${escape(domain)}\\s+done$`, 'm'), show(r));
    for (const name of names) {
      assert.match(r.stdout, new RegExp(`^\\s+verified\\s+${escape(probe(name))}\\s+TLSv1\\.[23] serial [0-9A-F]+\\s+200 "hello from ${escape(probe(name))}"$`, 'm'), show(r));
    }
    assert.match(r.stdout, new RegExp(`^${escape(domain)}\\s+${escape(names.join(', '))}\\s+ec256\\s+\\d+\\.\\d\\ds\\s+\\d{4}-\\d\\d-\\d\\d\\s+yes$`, 'm'), show(r));
  }
  assert.match(r.stdout, /^4\/4 certificates, 6\/6 names verified in \d+\.\ds$/m, show(r));
  assert.ok(r.stdout.includes(path.join(out, 'store', 'certificates')), show(r));

  const rootFile = path.join(out, 'pebble-root.pem');
  assert.ok(existsSync(rootFile), 'pebble-root.pem written');
  const root = new X509Certificate(await readFile(rootFile, 'utf8'));
  assert.equal(root.ca, true);
  assert.ok(root.verify(root.publicKey), 'the root is self-signed');

  for (const { domain, names } of certs) {
    const dir = path.join(out, 'store', 'certificates', domain);
    assert.equal(opensslVerify(rootFile, dir), `${path.join(dir, 'cert.pem')}: OK`);
    const leaf = new X509Certificate(await readFile(path.join(dir, 'cert.pem'), 'utf8'));
    for (const name of names) assert.ok(leaf.checkHost(probe(name)) !== undefined, `${domain} certificate covers ${name}`);
  }
});

test('leec issue against Pebble: issues, reuses without an order, --force issues again', async (t) => {
  const dir = await tempDir(t, 'leec-cli-issue-');
  const httpPort = await freePort();
  const pebble = await startPebble({ httpPort });
  t.after(() => pebble.stop());
  const caFile = path.join(dir, 'pebble-ca.pem');
  await writeFile(caFile, pebble.caPem);
  const store = path.join(dir, 'store');
  const args = [
    'issue',
    '--directory', pebble.directoryUrl,
    '--domain', 'issue.example.test',
    '--san', 'www.issue.example.test',
    '--ca-bundle', caFile,
    '--http-port', String(httpPort),
    '--http-host', '127.0.0.1',
    '--out', store,
    '--key-type', 'ec256',
    '--email', 'ops@example.com',
  ];
  const certDir = path.join(store, 'certificates', 'issue.example.test');
  const serialOnDisk = async (): Promise<string> => new X509Certificate(await readFile(path.join(certDir, 'cert.pem'), 'utf8')).serialNumber;
  const printedSerial = (r: Run): string => /^\s+serial\s+([0-9A-F]+)$/m.exec(r.stdout)?.[1] ?? '';

  const first = await runCli(args);
  assert.equal(first.code, 0, show(first));
  assert.equal(first.stderr, '', show(first));
  assert.match(first.stdout, /^issued certificate for issue\.example\.test in \d+\.\d\ds/m, show(first));
  assert.match(first.stdout, /^\[\s*\d+\.\d\ds\] pending$/m, show(first));
  assert.match(first.stdout, /^\s+names\s+issue\.example\.test, www\.issue\.example\.test$/m, show(first));
  assert.match(first.stdout, new RegExp(`^\\s+fullchain\\s+${escape(path.join(certDir, 'fullchain.pem'))}$`, 'm'), show(first));
  assert.match(first.stdout, new RegExp(`^\\s+privkey\\s+${escape(path.join(certDir, 'privkey.pem'))}$`, 'm'), show(first));
  for (const f of ['fullchain.pem', 'privkey.pem', 'cert.pem', 'chain.pem']) assert.ok(existsSync(path.join(certDir, f)), f);
  assert.equal((await stat(path.join(certDir, 'privkey.pem'))).mode & 0o777, 0o600);
  const serial1 = await serialOnDisk();
  assert.equal(printedSerial(first), serial1);
  const rootFile = path.join(dir, 'root.pem');
  await writeFile(rootFile, await pebble.fetchRootPem());
  assert.equal(opensslVerify(rootFile, certDir), `${path.join(certDir, 'cert.pem')}: OK`);

  const second = await runCli(args);
  assert.equal(second.code, 0, show(second));
  assert.match(second.stdout, /^reused stored certificate \(\d+ days left, use --force\)$/m, show(second));
  assert.doesNotMatch(second.stdout, /^\[\s*\d+\.\d\ds\] /m, 'no agent ran, so no order was placed');
  assert.doesNotMatch(second.stdout, /issued certificate/);
  assert.equal(printedSerial(second), serial1);
  assert.equal(await serialOnDisk(), serial1);

  const third = await runCli([...args, '--force']);
  assert.equal(third.code, 0, show(third));
  assert.match(third.stdout, /^issued certificate for issue\.example\.test/m, show(third));
  assert.doesNotMatch(third.stdout, /reused/);
  const serial3 = await serialOnDisk();
  assert.notEqual(serial3, serial1);
  assert.equal(printedSerial(third), serial3);
});

/** A Pebble for one CLI test, its CA written to a file for --ca-bundle, and a store path; all removed after. */
async function pebbleForCli(t: { after(fn: () => Promise<void>): void }, prefix: string): Promise<{ pebble: PebbleInstance; caFile: string; store: string }> {
  const dir = await tempDir(t, prefix);
  const pebble = await startPebble({ httpPort: await freePort() });
  t.after(() => pebble.stop());
  const caFile = path.join(dir, 'pebble-ca.pem');
  await writeFile(caFile, pebble.caPem);
  return { pebble, caFile, store: path.join(dir, 'store') };
}

test('leec issue --challenge dns-01 --dns-provider challtestsrv: a wildcard with its apex', async (t) => {
  const { pebble, caFile, store } = await pebbleForCli(t, 'leec-cli-dns-');
  const r = await runCli([
    'issue', '--directory', pebble.directoryUrl, '--ca-bundle', caFile, '--out', store, '--key-type', 'ec256',
    '--domain', 'dns.example.test', '--san', '*.dns.example.test',
    '--challenge', 'dns-01', '--dns-provider', 'challtestsrv', '--dns-option', `url=${pebble.challtestsrvUrl}`,
    '--dns-resolver', pebble.dnsAddress, '--dns-timeout', '20',
  ]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^dns-01 TXT records through the challtestsrv provider, account /m, show(r));
  assert.match(r.stdout, /^\s+names\s+dns\.example\.test, \*\.dns\.example\.test$/m, show(r));
  const leaf = new X509Certificate(await readFile(path.join(store, 'certificates', 'dns.example.test', 'cert.pem'), 'utf8'));
  assert.deepEqual(leaf.subjectAltName?.split(', ').sort(), ['DNS:*.dns.example.test', 'DNS:dns.example.test']);
});

test('leec issue --challenge tls-alpn-01 --tls-port: validated on the TLS port', async (t) => {
  const { pebble, caFile, store } = await pebbleForCli(t, 'leec-cli-alpn-');
  const r = await runCli([
    'issue', '--directory', pebble.directoryUrl, '--ca-bundle', caFile, '--out', store, '--key-type', 'ec256',
    '--domain', 'alpn.example.test', '--challenge', 'tls-alpn-01', '--tls-port', String(pebble.tlsPort), '--tls-host', '127.0.0.1',
  ]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, new RegExp(`^tls-alpn-01 responder on 127\\.0\\.0\\.1:${pebble.tlsPort}, account `, 'm'), show(r));
  const leaf = new X509Certificate(await readFile(path.join(store, 'certificates', 'alpn.example.test', 'cert.pem'), 'utf8'));
  assert.equal(leaf.subjectAltName, 'DNS:alpn.example.test');
});

test('leec issue: bad input fails with one stderr line and no network request', async (t) => {
  const connections: net.Socket[] = [];
  const server = net.createServer((s) => {
    connections.push(s);
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as net.AddressInfo).port;
  const directory = `https://127.0.0.1:${port}/dir`;
  const httpPort = String(await freePort());
  const base = (over: Record<string, string>): string[] => {
    const opts: Record<string, string> = { '--directory': directory, '--domain': 'ok.example.test', '--http-port': httpPort, '--key-type': 'ec256', ...over };
    return ['issue', ...Object.entries(opts).flat()];
  };
  const cases: Array<{ args: string[]; code: string }> = [
    { args: base({ '--directory': 'http://example.com/dir' }), code: 'ERR_INVALID_DIRECTORY_URL' },
    { args: base({ '--domain': '' }), code: 'ERR_INVALID_DOMAIN' },
    { args: base({ '--domain': 'a_b.example.test' }), code: 'ERR_INVALID_DOMAIN' },
    { args: base({ '--domain': '*.example.test' }), code: 'ERR_WILDCARD_NEEDS_DNS01' },
    { args: base({ '--key-type': 'rsa1024' }), code: 'ERR_INVALID_KEY_TYPE' },
    { args: base({ '--http-port': '70000' }), code: 'ERR_INVALID_OPTION' },
    { args: [...base({}), '--webroot', os.tmpdir()], code: 'ERR_INVALID_OPTION' },
    { args: base({ '--ca-bundle': path.join(os.tmpdir(), 'leec-no-such-bundle.pem') }), code: 'ERR_INVALID_OPTION' },
    { args: base({ '--email': 'not-an-address' }), code: 'ERR_INVALID_OPTION' },
    { args: [...base({}), '--no-such-option'], code: 'ERR_INVALID_OPTION' },
    { args: base({ '--challenge': 'dns-02' }), code: 'ERR_INVALID_OPTION' },
    { args: base({ '--challenge': 'dns-01' }), code: 'ERR_INVALID_OPTION' }, // no --dns-provider
    { args: base({ '--challenge': 'dns-01', '--dns-provider': 'route53' }), code: 'ERR_INVALID_OPTION' },
    { args: base({ '--challenge': 'dns-01', '--dns-provider': 'rfc2136', '--dns-option': 'nonsense' }), code: 'ERR_INVALID_OPTION' },
    { args: base({ '--challenge': 'dns-01', '--dns-provider': 'rfc2136', '--dns-option': 'server=127.0.0.1:53', '--dns-resolver': 'not-an-ip' }), code: 'ERR_INVALID_OPTION' },
    { args: base({ '--challenge': 'dns-01', '--dns-provider': 'exec', '--dns-option': 'command=/no/such/hook' }), code: 'ERR_INVALID_OPTION' },
    { args: base({ '--challenge': 'dns-01', '--dns-provider': 'challtestsrv', '--dns-option': 'url=http://127.0.0.1:1', '--domain': '127.0.0.1' }), code: 'ERR_INVALID_DOMAIN' },
    { args: base({ '--dns-provider': 'challtestsrv' }), code: 'ERR_INVALID_OPTION' }, // --dns-* without dns-01
    { args: base({ '--challenge': 'tls-alpn-01' }), code: 'ERR_INVALID_OPTION' }, // no --tls-port
    // Flags the order would not use, and listen addresses that would need a DNS lookup.
    { args: base({ '--challenge': 'tls-alpn-01', '--tls-port': httpPort }), code: 'ERR_INVALID_OPTION' }, // --http-port too
    { args: base({ '--tls-port': httpPort }), code: 'ERR_INVALID_OPTION' }, // with http-01
    { args: [...base({ '--challenge': 'dns-01', '--dns-provider': 'challtestsrv', '--dns-option': 'url=http://127.0.0.1:1' })], code: 'ERR_INVALID_OPTION' }, // --http-port with dns-01
    { args: base({ '--http-host': 'not an address' }), code: 'ERR_INVALID_OPTION' },
    { args: base({ '--http-host': 'example.test' }), code: 'ERR_INVALID_OPTION' },
    { args: [...base({}), '--tls-host', '127.0.0.1'], code: 'ERR_INVALID_OPTION' }, // without --tls-port
  ];
  const runs = await Promise.all(cases.map((c) => runCli(c.args, 30_000)));
  for (const [i, r] of runs.entries()) {
    const c = cases[i]!;
    assert.equal(r.code, 2, `${c.args.join(' ')}\n${show(r)}`);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, `one stderr line for ${c.args.join(' ')}\n${show(r)}`);
    assert.match(lines[0]!, new RegExp(`^leec: ${c.code}: \\S`), show(r));
  }
  assert.equal(connections.length, 0, 'no bad-input run connected to the directory');
  // The control: the same arguments without the bad one do reach the directory, so zero means something.
  const reached = await runCli(base({}), 30_000);
  assert.equal(reached.code, 1, show(reached));
  assert.match(reached.stderr, /^leec: ERR_ACME_TRANSPORT: /, show(reached));
  assert.ok(connections.length >= 1, 'the control run connected');
});
