/**
 * waitForTxt and findAuthoritativeServers against real BIND servers on loopback: a value that appears
 * after an update is seen (no stale negative answer), a value that never appears gives a typed
 * ERR_DNS_PROPAGATION after the timeout, every server must have it, abort rejects at once, and the
 * authoritative servers are found by walking up to the zone's NS set.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findAuthoritativeServers, waitForTxt } from '../../src/dns/propagation.js';
import { createRfc2136Provider } from '../../src/dns/rfc2136.js';
import type { Dns01Provider } from '../../src/dns/provider.js';
import { AbortedError, DnsError, ErrorCode, InvalidInputError } from '../../src/errors.js';
import { bindMissing, startBind, type BindInstance } from '../support/bind-server.js';
import { caught } from '../support/caught.js';

const skip = bindMissing();
const NAME = '_acme-challenge.example.test.';

function providerFor(b: BindInstance): Dns01Provider {
  return createRfc2136Provider({ server: b.address, keyName: b.keyName, keySecret: b.keySecret, zone: b.zone });
}

describe('waitForTxt against BIND', { skip, concurrency: false }, () => {
  let a: BindInstance;
  let b: BindInstance;

  before(async () => {
    [a, b] = await Promise.all([startBind({ zone: 'example.test' }), startBind({ zone: 'example.test' })]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('resolves once the value appears after an update (asked before and after it)', async () => {
    const p = providerFor(a);
    const t0 = Date.now();
    const waiting = waitForTxt({ fqdn: NAME, value: 'late-value', servers: [a.address], timeoutMs: 5_000, intervalMs: 50 });
    await new Promise((r) => setTimeout(r, 300));
    await p.present({ domain: 'example.test', fqdn: NAME, value: 'late-value' });
    await waiting;
    const took = Date.now() - t0;
    assert.ok(took >= 300 && took < 2_000, `took ${took} ms`);
    await p.cleanup({ domain: 'example.test', fqdn: NAME, value: 'late-value' });
  });

  it('among other values on the name; fqdn without the trailing dot is the same name', async () => {
    const p = providerFor(a);
    await p.present({ domain: 'example.test', fqdn: NAME, value: 'other' });
    await p.present({ domain: 'example.test', fqdn: NAME, value: 'mine' });
    await waitForTxt({ fqdn: '_acme-challenge.example.test', value: 'mine', servers: [a.address], timeoutMs: 2_000, intervalMs: 50 });
    await p.cleanup({ domain: 'example.test', fqdn: NAME, value: 'other' });
    await p.cleanup({ domain: 'example.test', fqdn: NAME, value: 'mine' });
  });

  it('never appears: DnsError ERR_DNS_PROPAGATION after the timeout, with fqdn, servers, timeoutMs, pending', async () => {
    const t0 = Date.now();
    const e = await caught(waitForTxt({ fqdn: NAME, value: 'never', servers: [a.address], timeoutMs: 400, intervalMs: 50 }), DnsError);
    const took = Date.now() - t0;
    assert.ok(took >= 400 && took < 1_500, `took ${took} ms`);
    assert.equal(e.code, ErrorCode.dnsPropagation);
    assert.equal(e.step, 'dns');
    assert.equal(e.data['fqdn'], NAME);
    assert.deepEqual(e.data['servers'], [a.address]);
    assert.deepEqual(e.data['pending'], [a.address]);
    assert.equal(e.data['timeoutMs'], 400);
    assert.deepEqual(e.data['lastSeen'], { [a.address]: 'ENODATA' });
  });

  it('every server must have it: pending names the one that lags, until it has it too', async () => {
    const pa = providerFor(a);
    const pb = providerFor(b);
    const record = { domain: 'example.test', fqdn: NAME, value: 'both' };
    await pa.present(record);
    const e = await caught(waitForTxt({ fqdn: NAME, value: 'both', servers: [a.address, b.address], timeoutMs: 300, intervalMs: 50 }), DnsError);
    assert.deepEqual(e.data['pending'], [b.address]);
    const waiting = waitForTxt({ fqdn: NAME, value: 'both', servers: [a.address, b.address], timeoutMs: 5_000, intervalMs: 50 });
    await new Promise((r) => setTimeout(r, 150));
    await pb.present(record);
    await waiting;
    await Promise.all([pa.cleanup(record), pb.cleanup(record)]);
  });

  it('abort rejects with AbortedError at once', async () => {
    const ac = new AbortController();
    const waiting = waitForTxt({ fqdn: NAME, value: 'never', servers: [a.address], timeoutMs: 10_000, intervalMs: 100, signal: ac.signal });
    setTimeout(() => ac.abort(), 150);
    const t0 = Date.now();
    const e = await caught(waiting, AbortedError);
    assert.ok(Date.now() - t0 < 500);
    assert.equal(e.code, ErrorCode.aborted);
    assert.equal(e.step, 'dns');
    const already = await caught(waitForTxt({ fqdn: NAME, value: 'x', servers: [a.address], timeoutMs: 1_000, intervalMs: 50, signal: AbortSignal.abort() }), AbortedError);
    assert.equal(already.code, ErrorCode.aborted);
  });

  it('findAuthoritativeServers walks up to the NS set and resolves it (here: ns1.example.test → 127.0.0.1)', async () => {
    const servers = await findAuthoritativeServers(NAME, { resolvers: [a.address], port: a.port, timeoutMs: 2_000 });
    assert.deepEqual(servers, [a.address]);
    const deeper = await findAuthoritativeServers('_acme-challenge.a.b.example.test', { resolvers: [a.address], port: 53, timeoutMs: 2_000 });
    assert.deepEqual(deeper, ['127.0.0.1:53']);
    // And the servers it found are the ones waitForTxt can ask.
    const p = providerFor(a);
    await p.present({ domain: 'example.test', fqdn: NAME, value: 'found' });
    await waitForTxt({ fqdn: NAME, value: 'found', servers, timeoutMs: 2_000, intervalMs: 50 });
    await p.cleanup({ domain: 'example.test', fqdn: NAME, value: 'found' });
  });

  it('findAuthoritativeServers: a server that refuses the name is a typed ERR_DNS_PROPAGATION', async () => {
    const e = await caught(findAuthoritativeServers('_acme-challenge.other.test.', { resolvers: [a.address], timeoutMs: 2_000 }), DnsError);
    assert.equal(e.code, ErrorCode.dnsPropagation);
    assert.deepEqual([e.data['reason'], e.data['cause']], ['authoritativeServersNotFound', 'EREFUSED']);
  });
});

describe('waitForTxt: bad input', () => {
  it('is InvalidInputError before any query', async () => {
    const base = { fqdn: NAME, value: 'v', servers: ['127.0.0.1:53'], timeoutMs: 1_000, intervalMs: 50 };
    for (const [patch, option] of [
      [{ fqdn: 'bad..name' }, 'fqdn'],
      [{ value: '' }, 'value'],
      [{ timeoutMs: 0 }, 'timeoutMs'],
      [{ intervalMs: -5 }, 'intervalMs'],
      [{ servers: [] }, 'servers'],
      [{ servers: ['not an address'] }, 'servers'],
    ] as const) {
      const e = await caught(waitForTxt({ ...base, ...patch } as Parameters<typeof waitForTxt>[0]), InvalidInputError);
      assert.equal(e.data['option'], option);
    }
  });
});
