/**
 * Bad input fails at once with a typed error and a stable code, before any network request: a
 * listening socket stands in for the ACME server and must see no connection at all.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Supervisor } from '../../src/supervisor.js';
import { ErrorCode, InvalidInputError } from '../../src/errors.js';
import { defaultAgentsPerThread, defaultKeygenConcurrency, fillOptions, type SupervisorOptions } from '../../src/options.js';
import { availableParallelism } from 'node:os';

describe('bad options are refused before any request', () => {
  let server: net.Server;
  let port: number;
  let connections = 0;
  let storeDir: string;
  before(async () => {
    storeDir = mkdtempSync(join(tmpdir(), 'leec-bad-'));
    server = net.createServer((s) => {
      connections += 1;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => {
    server.close();
    rmSync(storeDir, { recursive: true, force: true });
  });

  const cases: Array<[string, (p: number, dir: string) => Partial<SupervisorOptions>, string]> = [
    ['an http:// directory', (p) => ({ directoryUrl: `http://127.0.0.1:${p}/dir` }), ErrorCode.invalidDirectoryUrl],
    ['a directory that is not a URL', () => ({ directoryUrl: 'acme.example' }), ErrorCode.invalidDirectoryUrl],
    ['an ftp: directory', () => ({ directoryUrl: 'ftp://127.0.0.1/dir' }), ErrorCode.invalidDirectoryUrl],
    ['an unknown key type', () => ({ keyType: 'rsa1024' as never }), ErrorCode.invalidKeyType],
    ['a contact that is not mailto:', () => ({ contact: ['admin@example.com'] }), ErrorCode.invalidOption],
    ['a CA bundle that is not PEM', () => ({ caBundle: 'not a pem' }), ErrorCode.invalidOption],
    ['no store directory', () => ({ storeDir: '' }), ErrorCode.invalidOption],
    ['an out-of-range port', () => ({ http01: { mode: 'standalone', port: 70000 } }), ErrorCode.invalidOption],
    ['zero agents', () => ({ maxConcurrentAgents: 0 }), ErrorCode.invalidOption],
    ['a zero HTTP timeout', () => ({ httpTimeoutMs: 0 }), ErrorCode.invalidOption],
    ['a misspelt option', () => ({ keytype: 'ec256' }) as never, ErrorCode.invalidOption],
    ['a logger without methods', () => ({ logger: {} as never }), ErrorCode.invalidOption],
    ['a standalone host that is not a string', () => ({ http01: { mode: 'standalone', port: 0, host: 42 as never } }), ErrorCode.invalidOption],
    ['a webroot that does not exist', (_p, dir) => ({ http01: { mode: 'webroot', webroot: join(dir, 'missing') } }), ErrorCode.invalidOption],
    [
      'a CA bundle whose PEM body is junk',
      () => ({ caBundle: '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n' }),
      ErrorCode.invalidOption,
    ],
  ];
  for (const [what, make, code] of cases) {
    it(`${what} → ${code}`, async () => {
      const opts = { directoryUrl: `https://127.0.0.1:${port}/dir`, storeDir, ...make(port, storeDir) } as SupervisorOptions;
      await assert.rejects(Supervisor.start(opts), (e: unknown) => e instanceof InvalidInputError && e.code === code && e.step === 'input');
      assert.equal(connections, 0);
      assert.equal(existsSync(join(storeDir, 'missing')), false, 'nothing created');
    });
  }

  it('http:// is accepted on loopback only with allowInsecureLoopback', () => {
    assert.equal(fillOptions({ directoryUrl: 'http://127.0.0.1:1/dir', storeDir, allowInsecureLoopback: true }).directoryUrl, 'http://127.0.0.1:1/dir');
    assert.throws(
      () => fillOptions({ directoryUrl: 'http://example.com/dir', storeDir, allowInsecureLoopback: true }),
      (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidDirectoryUrl,
    );
  });

  it('fills the documented defaults', () => {
    const o = fillOptions({ directoryUrl: 'https://ca.example/dir', storeDir });
    assert.equal(o.keyType, 'rsa4096');
    assert.equal(o.accountMode, 'shared');
    assert.deepEqual(o.http01, { mode: 'embedded' });
    assert.equal(o.maxConcurrentAgents, 50);
    assert.equal(o.maxAgentRestarts, 3);
    // One thread per core, never more threads than agents.
    const threads = Math.min(availableParallelism(), 50);
    assert.equal(o.agentsPerThread, Math.ceil(50 / threads));
    assert.equal(fillOptions({ directoryUrl: 'https://ca.example/dir', storeDir, maxConcurrentAgents: 1 }).agentsPerThread, 1);
    assert.equal(o.keygenConcurrency, defaultKeygenConcurrency(process.env));
  });

  it('keygenConcurrency defaults to libuv\'s pool size less one, and refuses what is not a whole number >= 1', () => {
    assert.equal(defaultKeygenConcurrency({}), 3, 'libuv default pool of 4');
    assert.equal(defaultKeygenConcurrency({ UV_THREADPOOL_SIZE: '16' }), 15);
    assert.equal(defaultKeygenConcurrency({ UV_THREADPOOL_SIZE: '1' }), 1, 'never 0');
    assert.equal(defaultKeygenConcurrency({ UV_THREADPOOL_SIZE: 'lots' }), 3);
    assert.equal(defaultAgentsPerThread(50, 2), 25);
    assert.equal(defaultAgentsPerThread(50, 64), 1);
    assert.equal(defaultAgentsPerThread(7, 2), 4);
    for (const [option, value] of [['httpTimeoutMs', 2 ** 31], ['jobTimeoutMs', 1e12], ['pollTimeoutMs', 2 ** 31]] as const) {
      assert.throws(() => fillOptions({ directoryUrl: 'https://ca.example/dir', storeDir, [option]: value }), { code: ErrorCode.invalidOption }, `${option} past Node's longest timer`);
    }
    assert.equal(fillOptions({ directoryUrl: 'https://ca.example/dir', storeDir, jobTimeoutMs: 2 ** 31 - 1 }).jobTimeoutMs, 2 ** 31 - 1);
    for (const keygenConcurrency of [0, 1.5, -2]) {
      assert.throws(() => fillOptions({ directoryUrl: 'https://ca.example/dir', storeDir, keygenConcurrency }), { code: ErrorCode.invalidOption });
    }
  });
});
