/**
 * Safety tests of the http-01 responder (RFC 8555 §8.3) with exact request lines over raw
 * sockets: only GET/HEAD of `/.well-known/acme-challenge/<token>` for a base64url token the store
 * holds under the request's host answer 200; everything else is 404 (405 for other methods on the
 * challenge path), and nothing is decoded or normalized. Also the webroot publisher's refusal of
 * unsafe tokens before any disk access, and no key authorization in error messages.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, InvalidInputError } from '../../src/errors.js';
import { ChallengeStore, MAX_TOKEN_LENGTH } from '../../src/responder/challenge-store.js';
import { listenHttp01, type Http01Listener } from '../../src/responder/standalone.js';
import { WebrootPublisher } from '../../src/responder/webroot.js';

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `lines` verbatim (request line and headers, CRLF-joined, `Connection: close` added) and reads to EOF. */
function raw(port: number, lines: string[]): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      if (split === -1) {
        reject(new Error(`no HTTP response: ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const [statusLine = '', ...headerLines] = text.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const h of headerLines) {
        const i = h.indexOf(':');
        headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: text.slice(split + 4) });
    });
    sock.end(`${[...lines, 'Connection: close'].join('\r\n')}\r\n\r\n`);
  });
}

const TOKEN = 'Tok3n_-abcDEF0123456789xyzXYZ';
const KEY_AUTH = `${TOKEN}.Thumb-print_0123456789abcdef`;
const V6_TOKEN = 'v6Token';
const V6_AUTH = `${V6_TOKEN}.thumb`;
const PREFIX = '/.well-known/acme-challenge/';

describe('http-01 responder over raw sockets', () => {
  const store = new ChallengeStore();
  let srv: Http01Listener;
  /** `host: null` sends no Host header. */
  const get = (target: string, host: string | null = 'example.test', method = 'GET', version = 'HTTP/1.1'): Promise<RawReply> =>
    raw(srv.port, [`${method} ${target} ${version}`, ...(host === null ? [] : [`Host: ${host}`])]);

  before(async () => {
    await store.present({ host: 'example.test', token: TOKEN, keyAuthorization: KEY_AUTH });
    await store.present({ host: '::1', token: V6_TOKEN, keyAuthorization: V6_AUTH });
    srv = await listenHttp01(store, { port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await srv.close();
  });

  it('serves a held token with GET', async () => {
    const r = await get(PREFIX + TOKEN);
    assert.equal(r.status, 200);
    assert.equal(r.body, KEY_AUTH);
    assert.match(r.headers['content-type'] ?? '', /^text\/plain/);
  });

  it('HEAD gets the headers only', async () => {
    const r = await get(PREFIX + TOKEN, 'example.test', 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(KEY_AUTH)));
    assert.equal(r.body, '');
  });

  it('PUT, POST, DELETE, PATCH, OPTIONS on the challenge path are 405 with Allow: GET, HEAD', async () => {
    for (const method of ['PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await raw(srv.port, [`${method} ${PREFIX}${TOKEN} HTTP/1.1`, 'Host: example.test', 'Content-Length: 0']);
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
      assert.ok(!r.body.includes(KEY_AUTH), method);
    }
    // The token is still served: a POST did not consume or alter it.
    assert.equal((await get(PREFIX + TOKEN)).body, KEY_AUTH);
  });

  it('404s every path that is not exactly the prefix plus a held base64url token', async () => {
    const long = 'A'.repeat(5 * 1024);
    const targets = [
      PREFIX,
      `${PREFIX}a/b`,
      `${PREFIX}..`,
      `${PREFIX}.`,
      `${PREFIX}%2e%2e`,
      `${PREFIX}%2E%2E%2F${TOKEN}`,
      `${PREFIX}x/../${TOKEN}`,
      `${PREFIX}x/%2e%2e/${TOKEN}`,
      `${PREFIX}${TOKEN}/`,
      `${PREFIX}${TOKEN}/x`,
      `${PREFIX}${TOKEN}=`,
      `${PREFIX}${TOKEN}==`,
      `${PREFIX}${TOKEN.replace('_', '/')}`,
      `${PREFIX}${TOKEN.replace('-', '+')}`,
      `${PREFIX}%54${TOKEN.slice(1)}`,
      `${PREFIX}${TOKEN}%00`,
      `${PREFIX}${TOKEN}.`,
      `${PREFIX}${long}`,
      `/.well-known/./acme-challenge/${TOKEN}`,
      `//.well-known/acme-challenge/${TOKEN}`,
      `/.WELL-KNOWN/acme-challenge/${TOKEN}`,
      `/.well-known/acme-challenge${TOKEN}`,
      `/${TOKEN}`,
      '/',
      '*',
    ];
    for (const target of targets) {
      const r = await get(target);
      assert.equal(r.status, 404, target.slice(0, 80));
      assert.ok(!r.body.includes(KEY_AUTH), target.slice(0, 80));
    }
  });

  it('compares the Host case-insensitively, without port or trailing dot', async () => {
    for (const host of ['EXAMPLE.TEST:80', 'example.test.', 'Example.Test.:8080', 'example.test:5002']) {
      const r = await get(PREFIX + TOKEN, host);
      assert.equal(r.status, 200, host);
      assert.equal(r.body, KEY_AUTH, host);
    }
    for (const host of ['[::1]:5002', '[::1]', '[::1]:80']) {
      const r = await get(PREFIX + V6_TOKEN, host);
      assert.equal(r.status, 200, host);
      assert.equal(r.body, V6_AUTH, host);
    }
  });

  it('404s a host that does not hold the token, a missing Host and userinfo', async () => {
    for (const host of ['other.test', 'example.test.other', 'sub.example.test', 'example.test..', '127.0.0.1', '[::1]', 'user@example.test']) {
      const r = await get(PREFIX + TOKEN, host);
      assert.equal(r.status, 404, host);
      assert.ok(!r.body.includes(KEY_AUTH), host);
    }
    assert.equal((await get(PREFIX + V6_TOKEN, 'example.test')).status, 404, 'tokens are per host');
    assert.equal((await get(PREFIX + TOKEN, null, 'GET', 'HTTP/1.0')).status, 404, 'no Host header');
  });

  it('absolute-form request targets: the authority is the host, the path is taken as sent', async () => {
    const abs = (authority: string, path: string): string => `http://${authority}${path}`;
    let r = await get(abs('example.test', PREFIX + TOKEN), 'other.test');
    assert.equal(r.status, 200, 'the authority overrides the Host header (RFC 9112 §3.2.2)');
    assert.equal(r.body, KEY_AUTH);
    assert.equal((await get(abs('EXAMPLE.test:80', PREFIX + TOKEN))).status, 200);
    assert.equal((await get(abs('other.test', PREFIX + TOKEN), 'example.test')).status, 404);
    assert.equal((await get(abs('user@example.test', PREFIX + TOKEN))).status, 404);
    assert.equal((await get(abs('example.test', `${PREFIX}x/%2e%2e/${TOKEN}`))).status, 404, 'no dot-segment removal');
    assert.equal((await get(abs('example.test', `${PREFIX}x/../${TOKEN}`))).status, 404);
    assert.equal((await get(abs('example.test', `${PREFIX}%2e%2e`))).status, 404);
    assert.equal((await get(`ftp://example.test${PREFIX}${TOKEN}`)).status, 404);
    r = await get(abs('example.test', `${PREFIX}${TOKEN}?x=1`), 'other.test', 'HEAD');
    assert.equal(r.status, 200);
    assert.equal(r.body, '');
  });

  it('a token is 404 once withdrawn (authorization final)', async () => {
    const t = 'finalToken';
    await store.present({ host: 'example.test', token: t, keyAuthorization: `${t}.x` });
    assert.equal((await get(PREFIX + t)).status, 200);
    await store.cleanup({ host: 'EXAMPLE.TEST', token: t });
    assert.equal((await get(PREFIX + t)).status, 404);
    assert.equal((await get(PREFIX + t, 'example.test', 'HEAD')).status, 404);
    assert.deepEqual(Object.keys(store.ongoing('example.test')), [TOKEN]);
  });

  it('refuses bad tokens at present without echoing the key authorization', async () => {
    const s = new ChallengeStore();
    const secret = 'SECRET-key-authorization-value';
    for (const token of ['', '../x', 'a/b', '..', '%2e%2e', 'a=', 'a+b', 'a\0b', 'x'.repeat(MAX_TOKEN_LENGTH + 1)]) {
      await assert.rejects(s.present({ host: 'a.test', token, keyAuthorization: secret }), (err: unknown) => {
        assert.ok(err instanceof InvalidInputError);
        assert.ok(!`${err.message} ${JSON.stringify(err)}`.includes(secret));
        return true;
      });
    }
    assert.equal(s.size, 0);
  });
});

/** Every path under `dir` with its kind and content, not following links. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir, { recursive: true })).map(String).sort()) {
    const full = join(dir, entry);
    const st = await lstat(full);
    if (st.isSymbolicLink()) out.push(`${entry} -> ${await readlink(full)}`);
    else if (st.isDirectory()) out.push(`${entry}/`);
    else out.push(`${entry} = ${(await readFile(full)).toString('base64')}`);
  }
  return out;
}

describe('webroot publisher safety', () => {
  let base: string;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'leec-webroot-safety-'));
    await writeFile(join(base, 'outside.txt'), 'outside');
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('rejects unsafe tokens before touching disk: nothing is written anywhere', async () => {
    const secret = 'SECRET-key-authorization';
    const bad = [
      '../x', 'a/b', '..', '', '.', '%2e%2e%2fx', '%2e%2e', 'a\0b', '\0', 'x'.repeat(5000), 'x'.repeat(MAX_TOKEN_LENGTH + 1),
      '/etc/passwd', 'a\\b', '..\\x', ' ', 'tok=', 'a+b', 'a.b', '~', 'C:x',
    ];
    for (const webroot of [join(base, 'fresh'), join(base, 'existing')]) {
      if (webroot.endsWith('existing')) await mkdir(join(webroot, '.well-known', 'acme-challenge'), { recursive: true });
      const pub = new WebrootPublisher(webroot);
      const before = await tree(base);
      for (const token of bad) {
        const label = JSON.stringify(token.slice(0, 40));
        await assert.rejects(pub.present({ host: 'a.test', token, keyAuthorization: secret }), (err: unknown) => {
          assert.ok(err instanceof InvalidInputError, label);
          assert.equal(err.code, ErrorCode.invalidOption);
          assert.ok(!`${err.message} ${JSON.stringify(err)}`.includes(secret), label);
          return true;
        });
        await assert.rejects(pub.cleanup({ host: 'a.test', token }), InvalidInputError, label);
        assert.throws(() => pub.pathFor(token), InvalidInputError, label);
      }
      assert.deepEqual(await tree(base), before, webroot);
    }
  });

  it('a valid token of the maximum length is written inside the challenge directory and removed', async () => {
    const webroot = join(base, 'maxlen');
    const pub = new WebrootPublisher(webroot);
    const token = 'A'.repeat(MAX_TOKEN_LENGTH);
    await pub.present({ host: 'a.test', token, keyAuthorization: `${token}.x` });
    assert.deepEqual(await readdir(pub.challengeDir), [token]);
    await pub.cleanup({ host: 'a.test', token });
    assert.deepEqual(await readdir(pub.challengeDir), []);
  });

  it('replaces a planted symlink instead of writing through it', async () => {
    const webroot = join(base, 'planted');
    const pub = new WebrootPublisher(webroot);
    await mkdir(pub.challengeDir, { recursive: true });
    await symlink(join(base, 'outside.txt'), join(pub.challengeDir, 'plantedTok'));
    await pub.present({ host: 'a.test', token: 'plantedTok', keyAuthorization: 'plantedTok.x' });
    assert.equal(await readFile(join(base, 'outside.txt'), 'utf8'), 'outside');
    assert.ok((await lstat(join(pub.challengeDir, 'plantedTok'))).isFile());
    await pub.cleanup({ host: 'a.test', token: 'plantedTok' });
    assert.equal(await readFile(join(base, 'outside.txt'), 'utf8'), 'outside');
  });
});
