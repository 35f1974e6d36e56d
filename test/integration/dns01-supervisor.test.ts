/**
 * dns-01 through the whole Supervisor (RFC 8555 §8.4): agents on worker threads ask the main thread's
 * provider to publish TXT values, check them at the given DNS server, and answer. Against Pebble with
 * real validation: through BIND with the rfc2136 provider (TSIG-signed updates), and through
 * pebble-challtestsrv with the challtestsrv provider. A wildcard and its apex in one order; a user's own
 * provider that fails; a value that never shows up; dns-01 without a provider.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/net/free-port.js';
import { findPebbleBinaries } from '../../src/pebble/install.js';
import { startPebble, type PebbleInstance } from '../../src/pebble/pebble-server.js';
import { Supervisor } from '../../src/supervisor.js';
import type { Dns01Options } from '../../src/options.js';
import type { Dns01Provider, Dns01Record } from '../../src/dns/provider.js';
import { DnsError, ErrorCode, InvalidInputError } from '../../src/errors.js';
import { bindMissing, startBind, txtAt, type BindInstance } from '../support/bind-server.js';
import { opensslVerify, sanNames, startHarness, type Harness } from '../support/pebble-harness.js';

const skip = bindMissing() ?? (findPebbleBinaries() === null ? 'Pebble is not installed' : undefined);

describe('dns-01 through the Supervisor, BIND and Pebble (rfc2136)', { skip, timeout: 120_000 }, () => {
  let bind: BindInstance;
  let pebble: PebbleInstance;
  let storeDir: string;
  let sup: Supervisor;
  const presented: string[] = [];

  before(async () => {
    bind = await startBind({ zone: 'example.test', aRecords: { mixed: '127.0.0.1' } });
    const httpPort = await freePort();
    pebble = await startPebble({ httpPort, dnsServer: bind.address });
    storeDir = mkdtempSync(join(tmpdir(), 'leec-dns01-'));
    sup = await Supervisor.start({
      directoryUrl: pebble.directoryUrl,
      caBundle: pebble.caPem,
      storeDir,
      keyType: 'ec256',
      challenge: 'dns-01',
      dns01: {
        provider: { name: 'rfc2136', options: { server: bind.address, keyName: bind.keyName, keySecret: bind.keySecret } },
        propagation: { servers: [bind.address], timeoutMs: 10_000, intervalMs: 100 },
      },
      http01: { mode: 'standalone', port: httpPort },
    });
    sup.on('challenge:presented', (e) => presented.push(`${e.type} ${e.host}`));
  });
  after(async () => {
    await sup?.shutdown();
    await pebble?.stop();
    await bind?.stop();
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  });

  it('issues example.test + *.example.test in one order; both TXT values published, then withdrawn', async () => {
    const r = await sup.obtainCertificate('example.test', { sans: ['*.example.test'] });
    assert.deepEqual(r.names, ['example.test', '*.example.test']);
    const leaf = readFileSync(r.paths.cert, 'utf8');
    assert.deepEqual(sanNames(leaf).sort(), ['*.example.test', 'example.test']);
    assert.match(opensslVerify(await pebble.fetchRootPem(), readFileSync(r.paths.chain, 'utf8'), leaf), /: OK$/);
    assert.equal(r.challengesAnswered, 2);
    assert.deepEqual(presented.sort(), ['dns-01 example.test', 'dns-01 example.test']);
    assert.deepEqual(await txtAt(bind, '_acme-challenge.example.test'), [], 'cleanup removed both values');
    // The wildcard is served by the SNI callback for any one-label subdomain.
    assert.ok(sup.certificates.get('anything.example.test'), 'the wildcard certificate covers anything.example.test');
  });

  it('per order: http-01 for one name while the supervisor default is dns-01', async () => {
    const r = await sup.obtainCertificate('mixed.example.test', { challenge: 'http-01' });
    assert.deepEqual(sanNames(readFileSync(r.paths.cert, 'utf8')), ['mixed.example.test']);
    assert.ok(presented.includes('http-01 mixed.example.test'));
  });
});

describe('dns-01 through the Supervisor and pebble-challtestsrv', { timeout: 120_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  const dns01 = (provider: Dns01Options['provider'], timeoutMs = 10_000): Dns01Options => ({
    provider,
    propagation: { servers: [h.pebble.dnsAddress], timeoutMs, intervalMs: 100 },
  });

  it('the challtestsrv provider: a wildcard with its apex, and nothing left at the DNS server', async () => {
    const sup = await h.supervisor({ http01: { mode: 'embedded' }, dns01: dns01({ name: 'challtestsrv', options: { url: h.pebble.challtestsrvUrl } }) });
    const r = await sup.obtainCertificate('*.wild.example.test', { sans: ['wild.example.test'], challenge: 'dns-01' });
    assert.deepEqual(sanNames(readFileSync(r.paths.cert, 'utf8')).sort(), ['*.wild.example.test', 'wild.example.test']);
    const resolver = new Resolver();
    resolver.setServers([h.pebble.dnsAddress]);
    await assert.rejects(resolver.resolveTxt('_acme-challenge.wild.example.test'), (e: NodeJS.ErrnoException) => e.code === 'ENOTFOUND' || e.code === 'ENODATA');
  });

  it('a user’s own provider that throws a plain Error: typed DnsError at step dns, crossed from the main thread', async () => {
    const cleaned: Dns01Record[] = [];
    const failing: Dns01Provider = {
      name: 'my-dns',
      present: async () => {
        throw new Error('zone is locked');
      },
      cleanup: async (r) => void cleaned.push(r),
    };
    const sup = await h.supervisor({ http01: { mode: 'embedded' }, dns01: dns01(failing) });
    await assert.rejects(sup.obtainCertificate('fails.example.test', { challenge: 'dns-01' }), (e: unknown) => {
      assert.ok(e instanceof DnsError, `got ${String(e)}`);
      assert.equal(e.code, ErrorCode.dnsProvider);
      assert.equal(e.step, 'dns');
      assert.deepEqual(e.data, { provider: 'my-dns', action: 'present' });
      assert.match(e.message, /zone is locked/);
      return true;
    });
    assert.deepEqual(cleaned.map((r) => r.fqdn), ['_acme-challenge.fails.example.test.'], 'withdrawn even though present failed');
  });

  it('a value that never becomes visible: ERR_DNS_PROPAGATION after the timeout, nothing answered', async () => {
    const silent: Dns01Provider = { name: 'silent', present: async () => undefined, cleanup: async () => undefined };
    const sup = await h.supervisor({ http01: { mode: 'embedded' }, dns01: dns01(silent, 600) });
    const answered: string[] = [];
    sup.on('state', (e) => answered.push(e.state));
    await assert.rejects(sup.obtainCertificate('never.example.test', { challenge: 'dns-01' }), (e: unknown) => {
      assert.ok(e instanceof DnsError, `got ${String(e)}`);
      assert.equal(e.code, ErrorCode.dnsPropagation);
      assert.equal(e.data.fqdn, '_acme-challenge.never.example.test.');
      return true;
    });
    assert.ok(!answered.includes('valid'));
  });

  it('a failed order is never resumed: the same request on the same store places a new order and gets the certificate', async () => {
    const storeDir = join(h.storeDir, 'failed-then-fixed');
    const checkpoint = join(storeDir, 'orders', 'again.example.test.json');
    const silent: Dns01Provider = { name: 'silent', present: async () => undefined, cleanup: async () => undefined };
    const failing = await h.supervisor({ storeDir, http01: { mode: 'embedded' }, dns01: dns01(silent, 600) });
    const orders: string[] = [];
    let saved: string | undefined;
    failing.on('state', (e) => {
      if (e.orderUrl && !orders.includes(e.orderUrl)) orders.push(e.orderUrl);
      if (e.state === 'pending') saved ??= readFileSync(checkpoint, 'utf8');
    });
    await assert.rejects(failing.obtainCertificate('again.example.test', { challenge: 'dns-01' }), { code: ErrorCode.dnsPropagation });
    await failing.shutdown();
    assert.ok(saved?.includes(orders[0]!), 'the order was checkpointed while it ran');
    assert.equal(existsSync(checkpoint), false, 'the failed order is forgotten');
    // Even a checkpoint left behind (an older version, a crash after the failure) is not resumed: the CA
    // no longer lets that order move on once its authorizations were deactivated (§7.5.2).
    writeFileSync(checkpoint, saved!, { mode: 0o600 });

    const fixed = await h.supervisor({ storeDir, http01: { mode: 'embedded' }, dns01: dns01({ name: 'challtestsrv', options: { url: h.pebble.challtestsrvUrl } }) });
    fixed.on('state', (e) => {
      if (e.orderUrl && !orders.includes(e.orderUrl)) orders.push(e.orderUrl);
    });
    const r = await fixed.obtainCertificate('again.example.test', { challenge: 'dns-01' });
    assert.equal(r.reused, false);
    assert.deepEqual(sanNames(readFileSync(r.paths.cert, 'utf8')), ['again.example.test']);
    assert.equal(orders.length, 2, `a second order: ${orders.join(', ')}`);
  });

  it('dns-01 without a dns01 provider, or a wildcard with http-01: refused before any request', async () => {
    const sup = await h.supervisor({ http01: { mode: 'embedded' } });
    await assert.rejects(sup.obtainCertificate('x.example.test', { challenge: 'dns-01' }), (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidOption);
    await assert.rejects(sup.obtainCertificate('*.x.example.test'), { code: ErrorCode.wildcardNeedsDns01 });
    await assert.rejects(h.supervisor({ dns01: { provider: { name: 'route53' } } }), { code: ErrorCode.invalidOption });
    await assert.rejects(h.supervisor({ dns01: { provider: { name: 'rfc2136', options: { server: '127.0.0.1:53', bogus: '1' } } } }), { code: ErrorCode.invalidOption });
  });
});
