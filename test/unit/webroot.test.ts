/**
 * Unit tests of WebrootPublisher: files under `<root>/.well-known/acme-challenge/` (RFC 8555 §8.3),
 * token validation before any disk access. No HTTP server is involved.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCode, InvalidInputError } from '../../src/errors.js';
import { WebrootPublisher } from '../../src/responder/webroot.js';

async function listAll(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

describe('WebrootPublisher', () => {
  let base: string;
  let root: string;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'leec-webroot-'));
    root = join(base, 'www');
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('present writes the exact key authorization with mode 0644, cleanup removes it', async () => {
    const pub = new WebrootPublisher(root);
    const token = 'Abc_DEF-123';
    const keyAuthorization = `${token}.thumb-print_X`;
    await pub.present({ host: 'a.test', token, keyAuthorization });
    const file = join(root, '.well-known', 'acme-challenge', token);
    assert.equal(await readFile(file, 'utf8'), keyAuthorization);
    assert.equal((await stat(file)).mode & 0o777, 0o644);
    assert.deepEqual(await readdir(join(root, '.well-known', 'acme-challenge')), [token]);
    await pub.cleanup({ host: 'a.test', token });
    await assert.rejects(stat(file), { code: 'ENOENT' });
  });

  it('cleanup of a never-presented token is a no-op', async () => {
    await new WebrootPublisher(root).cleanup({ host: 'a.test', token: 'neverThere' });
  });

  it('rejects bad tokens before touching disk', async () => {
    const fresh = join(base, 'fresh');
    const pub = new WebrootPublisher(fresh);
    const before = await listAll(base);
    for (const token of ['../x', 'a/b', '..', '', '%2e%2e', '.', 'a\\b', '/etc/passwd']) {
      await assert.rejects(pub.present({ host: 'a.test', token, keyAuthorization: 'evil' }), (err: unknown) => {
        assert.ok(err instanceof InvalidInputError);
        assert.equal(err.code, ErrorCode.invalidOption);
        return true;
      });
      await assert.rejects(pub.cleanup({ host: 'a.test', token }), InvalidInputError);
    }
    assert.deepEqual(await listAll(base), before);
    await assert.rejects(stat(fresh), { code: 'ENOENT' });
  });
});
