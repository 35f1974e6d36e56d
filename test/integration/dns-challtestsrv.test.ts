/**
 * The `challtestsrv` dns-01 provider (src/dns/challtestsrv.ts) against the real pebble-challtestsrv that
 * the Pebble fixture starts: each TXT value is seen over DNS at `pebble.dnsAddress` (the server Pebble's
 * validator asks), two values on one name are both answered, and a cleanup takes only its own value away.
 */
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { after, before, describe, it } from 'node:test';
import { challtestsrvFromOptions, createChalltestsrvProvider } from '../../src/dns/challtestsrv.js';
import type { Dns01Record } from '../../src/dns/provider.js';
import { DnsError, ErrorCode, InvalidInputError } from '../../src/errors.js';
import { freePort } from '../../src/net/free-port.js';
import { startPebble, type PebbleInstance } from '../../src/pebble/pebble-server.js';
import { caught } from '../support/caught.js';

let pebble: PebbleInstance;
let resolver: Resolver;

before(async () => {
  pebble = await startPebble({ httpPort: await freePort() });
  resolver = new Resolver({ timeout: 2_000, tries: 1 });
  resolver.setServers([pebble.dnsAddress]);
});
after(async () => {
  await pebble?.stop();
});

/** The TXT values answered for `name` (sorted), [] when there are none. */
async function txt(name: string): Promise<string[]> {
  try {
    return (await resolver.resolveTxt(name)).map((chunks) => chunks.join('')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENODATA' || (err as NodeJS.ErrnoException).code === 'ENOTFOUND') return [];
    throw err;
  }
}

const rec = (domain: string, value: string): Dns01Record => ({ domain, fqdn: `_acme-challenge.${domain}.`, value });

describe('challtestsrv provider (real pebble-challtestsrv)', () => {
  it('present makes the TXT value visible over DNS; cleanup removes it', async () => {
    const p = createChalltestsrvProvider({ url: pebble.challtestsrvUrl });
    assert.equal(p.name, 'challtestsrv');
    assert.deepEqual(await txt('_acme-challenge.one.example.test'), []);
    await p.present(rec('one.example.test', 'value-one'));
    assert.deepEqual(await txt('_acme-challenge.one.example.test'), ['value-one']);
    await p.cleanup(rec('one.example.test', 'value-one'));
    assert.deepEqual(await txt('_acme-challenge.one.example.test'), []);
  });

  it('two values on one name (a wildcard and its apex) are both answered; cleanup of one keeps the other', async () => {
    const p = createChalltestsrvProvider({ url: pebble.challtestsrvUrl });
    const name = '_acme-challenge.two.example.test';
    await p.present(rec('two.example.test', 'value-apex'));
    await p.present(rec('two.example.test', 'value-wildcard'));
    assert.deepEqual(await txt(name), ['value-apex', 'value-wildcard']);
    await p.present(rec('two.example.test', 'value-apex')); // again: still answered once
    assert.deepEqual(await txt(name), ['value-apex', 'value-wildcard']);

    await p.cleanup(rec('two.example.test', 'value-apex'));
    assert.deepEqual(await txt(name), ['value-wildcard']);
    await p.cleanup(rec('two.example.test', 'value-apex')); // already gone: no error, nothing changes
    assert.deepEqual(await txt(name), ['value-wildcard']);
    await p.cleanup(rec('two.example.test', 'value-wildcard'));
    assert.deepEqual(await txt(name), []);
  });

  it('concurrent operations on one name are serialized and other names are untouched', async () => {
    const p = createChalltestsrvProvider({ url: pebble.challtestsrvUrl });
    const values = ['c1', 'c2', 'c3', 'c4'];
    await Promise.all([...values.map((v) => p.present(rec('three.example.test', v))), p.present(rec('four.example.test', 'other-name'))]);
    assert.deepEqual(await txt('_acme-challenge.three.example.test'), values);
    await Promise.all([p.cleanup(rec('three.example.test', 'c1')), p.cleanup(rec('three.example.test', 'c3')), p.present(rec('three.example.test', 'c5'))]);
    assert.deepEqual(await txt('_acme-challenge.three.example.test'), ['c2', 'c4', 'c5']);
    assert.deepEqual(await txt('_acme-challenge.four.example.test'), ['other-name']);
    await Promise.all(['c2', 'c4', 'c5'].map((v) => p.cleanup(rec('three.example.test', v))));
    await p.cleanup(rec('four.example.test', 'other-name'));
    assert.deepEqual(await txt('_acme-challenge.three.example.test'), []);
    assert.deepEqual(await txt('_acme-challenge.four.example.test'), []);
  });

  it('an unreachable management API is a typed DnsError', async () => {
    const port = await freePort();
    const p = createChalltestsrvProvider({ url: `http://127.0.0.1:${port}` });
    const err = await caught(p.present(rec('five.example.test', 'v')), DnsError);
    assert.equal(err.code, ErrorCode.dnsProvider);
    assert.equal(err.step, 'dns');
    assert.equal(err.data.cause, 'ECONNREFUSED');
    assert.equal(err.data.host, '_acme-challenge.five.example.test.');
  });

  it('challtestsrvFromOptions: url; unknown, missing or bad keys are typed errors', async () => {
    const p = challtestsrvFromOptions({ url: `${pebble.challtestsrvUrl}/` });
    await p.present(rec('six.example.test', 'from-cli'));
    assert.deepEqual(await txt('_acme-challenge.six.example.test'), ['from-cli']);
    await p.cleanup(rec('six.example.test', 'from-cli'));
    assert.deepEqual(await txt('_acme-challenge.six.example.test'), []);
    const invalid = (raw: Record<string, string>, option: string): void => {
      assert.throws(() => challtestsrvFromOptions(raw), (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidOption && e.step === 'input' && e.data.option === option);
    };
    invalid({ url: pebble.challtestsrvUrl, host: 'x' }, 'host');
    invalid({}, 'url');
    invalid({ url: 'not a url' }, 'url');
    invalid({ url: 'ftp://127.0.0.1:21' }, 'url');
  });
});
