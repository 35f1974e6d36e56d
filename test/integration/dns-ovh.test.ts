/**
 * The `ovh` dns-01 provider (src/dns/ovh.ts) against the fake OVH API (test/support/fake-ovh-api.ts),
 * which checks signatures and timestamps on its own: records created with the exact subDomain, target
 * and TTL, refreshes, cleanup of our value only, the server clock, OVH's error documents as typed
 * errors without secrets, and the credentials file's permission checks (nothing sent when refused).
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createOvhProvider, ovhFromOptions } from '../../src/dns/ovh.js';
import { readOvhCredentials } from '../../src/dns/ovh-credentials.js';
import { ovhSignature } from '../../src/dns/ovh-signature.js';
import type { Dns01Record } from '../../src/dns/provider.js';
import { DnsError, ErrorCode, InvalidInputError, serializeError } from '../../src/errors.js';
import { caught } from '../support/caught.js';
import { startFakeOvhApi, type FakeOvhApi, type FakeOvhOptions } from '../support/fake-ovh-api.js';

const AK = 'a1b2c3d4e5f60718';
const AS = 'SECRETapplicationSECRET0123456789';
const CK = 'CONSUMERkeyCONSUMER0123456789abc';
const WRONG_AS = 'WRONGsecretWRONGsecret0123456789';

const dir = mkdtempSync(join(tmpdir(), 'leec-dns-ovh-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function credentialsFile(opts: { secret?: string; mode?: number; extra?: string } = {}): string {
  const file = join(dir, `ovh-${++n}.ini`);
  writeFileSync(
    file,
    ['# LEEC format', `dns_ovh_application_key = ${AK}`, `dns_ovh_application_secret = ${opts.secret ?? AS}`, `dns_ovh_consumer_key = ${CK}`, opts.extra ?? '', ''].join('\n'),
    { mode: 0o600 },
  );
  chmodSync(file, opts.mode ?? 0o600);
  return file;
}

async function fake(t: import('node:test').TestContext, opts: Partial<FakeOvhOptions> = {}): Promise<FakeOvhApi> {
  const api = await startFakeOvhApi({ applicationKey: AK, applicationSecret: AS, consumerKey: CK, zones: ['example.test', 'deep.example.test', 'other.test'], ...opts });
  t.after(() => api.close());
  return api;
}

const rec = (domain: string, value: string): Dns01Record => ({ domain, fqdn: `_acme-challenge.${domain}.`, value });

function assertNoSecret(err: unknown, secrets: string[]): void {
  const texts = [String((err as Error).message), String((err as Error).stack), JSON.stringify(err), JSON.stringify(serializeError(err))];
  for (const s of secrets) for (const t of texts) assert.equal(t.includes(s), false, `a secret leaked into: ${t.slice(0, 200)}`);
}

describe('ovh signature', () => {
  it('matches the official python-ovh client test vectors', () => {
    const base = { applicationSecret: 'fake application secret', consumerKey: 'fake consumer key', method: 'MeThOd', url: 'https://eu.api.ovh.com/1.0/unit/test', timestamp: 1404395931 };
    assert.equal(ovhSignature({ ...base, body: '' }), '$1$16ae5ba8c63841b1951575be905867991d5f49dc');
    assert.equal(ovhSignature({ ...base, body: '{"some": "random", "data": 42}' }), '$1$9acb1ac0120006d16261a635aed788e83ab172d2');
  });
});

describe('ovh provider', () => {
  it('present: a TXT record with the exact subDomain, target and ttl in the longest matching zone, then a refresh', async (t) => {
    const api = await fake(t, { clockOffsetSec: 3_600 }); // a client signing with its own clock would be refused
    const p = createOvhProvider({ endpoint: api.url, credentialsFile: credentialsFile(), ttl: 120 });
    assert.equal(p.name, 'ovh');
    await p.present(rec('www.deep.example.test', 'value-one'));
    await p.present(rec('example.test', 'value-two'));

    assert.deepEqual(
      api.records('deep.example.test').map(({ subDomain, fieldType, target, ttl }) => ({ subDomain, fieldType, target, ttl })),
      [{ subDomain: '_acme-challenge.www', fieldType: 'TXT', target: '"value-one"', ttl: 120 }],
    );
    assert.deepEqual(
      api.records('example.test').map(({ subDomain, fieldType, target, ttl }) => ({ subDomain, fieldType, target, ttl })),
      [{ subDomain: '_acme-challenge', fieldType: 'TXT', target: '"value-two"', ttl: 120 }],
    );
    assert.equal(api.refreshes('deep.example.test'), 1);
    assert.equal(api.refreshes('example.test'), 1);
    assert.equal(api.refreshes('other.test'), 0);
    // the server time is read once, unsigned, and every other call was accepted
    assert.deepEqual(
      api.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
      [
        'GET /1.0/auth/time 200',
        'GET /1.0/domain/zone 200',
        'POST /1.0/domain/zone/deep.example.test/record 200',
        'POST /1.0/domain/zone/deep.example.test/refresh 200',
        'GET /1.0/domain/zone 200',
        'POST /1.0/domain/zone/example.test/record 200',
        'POST /1.0/domain/zone/example.test/refresh 200',
      ],
    );
  });

  it('cleanup deletes only our value: another TXT on the same name stays; a second cleanup is a no-op', async (t) => {
    const api = await fake(t);
    const theirs = api.addRecord('example.test', { subDomain: '_acme-challenge', fieldType: 'TXT', target: 'someone-elses-value', ttl: 300 });
    api.addRecord('example.test', { subDomain: '_acme-challenge', fieldType: 'CNAME', target: 'value-apex' });
    const p = createOvhProvider({ endpoint: api.url, credentialsFile: credentialsFile(), zone: 'example.test' });
    // a wildcard and its apex: two values on one name
    await p.present(rec('example.test', 'value-apex'));
    await p.present(rec('example.test', 'value-wildcard'));
    assert.equal(api.records('example.test').filter((r) => r.fieldType === 'TXT').length, 3);
    assert.equal(api.refreshes('example.test'), 2);

    await p.cleanup(rec('example.test', 'value-apex'));
    assert.deepEqual(
      api.records('example.test').filter((r) => r.fieldType === 'TXT').map((r) => r.target).sort(),
      ['"someone-elses-value"', '"value-wildcard"'],
    );
    assert.equal(api.records('example.test').filter((r) => r.fieldType === 'CNAME').length, 1);
    assert.equal(api.refreshes('example.test'), 3);
    assert.equal(api.requests.filter((r) => r.method === 'DELETE').length, 1);

    const before = api.requests.length;
    await p.cleanup(rec('example.test', 'value-apex')); // already gone
    assert.equal(api.refreshes('example.test'), 3);
    assert.equal(api.requests.slice(before).filter((r) => r.method !== 'GET').length, 0);

    await p.cleanup(rec('example.test', 'value-wildcard'));
    assert.deepEqual(api.records('example.test').filter((r) => r.fieldType === 'TXT').map((r) => r.id), [theirs.id]);
    assert.equal(api.requests.some((r) => r.path === '/1.0/domain/zone'), false); // the zone was given
  });

  it('a wrong application secret is a typed error from OVH (400 INVALID_SIGNATURE) with no secret in it', async (t) => {
    const api = await fake(t);
    const p = createOvhProvider({ endpoint: api.url, credentialsFile: credentialsFile({ secret: WRONG_AS }) });
    const err = await caught(p.present(rec('example.test', 'v')), DnsError);
    assert.equal(err.code, ErrorCode.dnsProvider);
    assert.equal(err.step, 'dns');
    assert.equal(err.data.status, 400);
    assert.equal(err.data.ovhErrorCode, 'INVALID_SIGNATURE');
    assert.equal(err.data.ovhMessage, 'Invalid signature');
    assert.equal(err.data.method, 'GET');
    assert.equal(err.data.path, '/domain/zone');
    assert.match(String(err.data.queryId), /^FAKE\.\d+$/);
    assertNoSecret(err, [WRONG_AS, AS, CK]);
    assert.equal(api.records('example.test').length, 0);
  });

  it('a wrong consumer key is OVH’s 403 INVALID_CREDENTIAL, without the key', async (t) => {
    const api = await fake(t, { consumerKey: 'another-consumer-key' });
    const p = createOvhProvider({ endpoint: api.url, credentialsFile: credentialsFile(), zone: 'example.test' });
    const err = await caught(p.present(rec('example.test', 'v')), DnsError);
    assert.equal(err.data.status, 403);
    assert.equal(err.data.ovhErrorCode, 'INVALID_CREDENTIAL');
    assertNoSecret(err, [AS, CK]);
  });

  it('the fake refuses a correctly signed request outside its timestamp window (QUERY_TIME_OUT)', async (t) => {
    const api = await fake(t, { timestampWindowSec: 30 });
    const url = `${api.url}/domain/zone`;
    const send = async (timestamp: number): Promise<{ status: number; body: unknown }> => {
      const res = await fetch(url, {
        headers: {
          'X-Ovh-Application': AK,
          'X-Ovh-Consumer': CK,
          'X-Ovh-Timestamp': String(timestamp),
          'X-Ovh-Signature': ovhSignature({ applicationSecret: AS, consumerKey: CK, method: 'GET', url, body: '', timestamp }),
        },
      });
      return { status: res.status, body: await res.json() };
    };
    const nowSec = Math.floor(Date.now() / 1000);
    assert.deepEqual(await send(nowSec), { status: 200, body: ['example.test', 'deep.example.test', 'other.test'] });
    assert.deepEqual(await send(nowSec - 120), { status: 400, body: { errorCode: 'QUERY_TIME_OUT', httpCode: '400 Bad Request', message: 'Query out of time' } });
  });

  it('an HTTP error on the record call carries OVH’s status and message', async (t) => {
    const api = await fake(t);
    const p = createOvhProvider({ endpoint: api.url, credentialsFile: credentialsFile(), zone: 'not-mine.test' });
    const err = await caught(p.present(rec('not-mine.test', 'v')), DnsError);
    assert.equal(err.data.status, 404);
    assert.equal(err.data.ovhMessage, 'This service does not exist');
    assert.equal(err.data.path, '/domain/zone/not-mine.test/record');
  });

  it('a name outside every zone of the account, or outside the given zone, is a DnsError', async (t) => {
    const api = await fake(t);
    const p = createOvhProvider({ endpoint: api.url, credentialsFile: credentialsFile() });
    const err = await caught(p.present(rec('elsewhere.test', 'v')), DnsError);
    assert.match(err.message, /no zone of this OVH account holds _acme-challenge\.elsewhere\.test/);
    const before = api.requests.length;
    const q = createOvhProvider({ endpoint: api.url, credentialsFile: credentialsFile(), zone: 'other.test' });
    const err2 = await caught(q.present(rec('example.test', 'v')), DnsError);
    assert.equal(err2.data.zone, 'other.test');
    assert.equal(api.requests.length, before); // refused before any request
  });

  it('a credentials file readable by group or others is refused at creation: typed error, zero requests', async (t) => {
    const api = await fake(t);
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      const file = credentialsFile({ mode });
      const err = (() => {
        try {
          createOvhProvider({ endpoint: api.url, credentialsFile: file });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      assert.ok(err instanceof InvalidInputError, `mode ${mode.toString(8)} accepted`);
      assert.equal(err.code, ErrorCode.invalidOption);
      assert.equal(err.step, 'input');
      assert.equal(err.data.option, 'credentialsFile');
      assert.equal(err.data.mode, `0${mode.toString(8)}`);
      assertNoSecret(err, [AS, CK, AK]);
    }
    assert.equal(api.requests.length, 0);
    // 0400 (LEEC's chmod 400) is fine
    const ok = createOvhProvider({ endpoint: api.url, credentialsFile: credentialsFile({ mode: 0o400 }), zone: 'example.test' });
    await ok.present(rec('example.test', 'v400'));
    assert.equal(api.records('example.test').length, 1);
  });

  it('a credentials file owned by another user is refused', { skip: process.getuid?.() !== 0 ? 'needs root to chown' : false }, () => {
    const file = credentialsFile();
    chownSync(file, 65534, 65534);
    assert.throws(
      () => readOvhCredentials(file),
      (e: unknown) => e instanceof InvalidInputError && e.data.uid === 65534 && e.data.expectedUid === 0 && /owned by uid 65534/.test(e.message),
    );
  });

  it('a malformed credentials file names the line and key, never a value', () => {
    const bad = (extra: string, re: RegExp): void => {
      const file = credentialsFile({ extra });
      assert.throws(() => readOvhCredentials(file), (e: unknown) => e instanceof InvalidInputError && re.test(e.message) && !e.message.includes(AS) && !JSON.stringify(e).includes(AS));
    };
    bad('dns_ovh_application_secret = again', /line 5: dns_ovh_application_secret is given twice/);
    bad('dns_ovh_zone = example.test', /line 5: unknown key "dns_ovh_zone"/);
    bad('just some text', /line 5 is not `key = value`/);
    const missing = join(dir, 'missing-ck.ini');
    writeFileSync(missing, `dns_ovh_application_key = ${AK}\ndns_ovh_application_secret = ${AS}\n`, { mode: 0o600 });
    assert.throws(() => readOvhCredentials(missing), /dns_ovh_consumer_key is missing/);
    const quoted = join(dir, 'quoted.ini');
    writeFileSync(quoted, `dns_ovh_endpoint = "ovh-ca"\ndns_ovh_application_key = '${AK}'\ndns_ovh_application_secret = ${AS}\ndns_ovh_consumer_key = ${CK}\n`, { mode: 0o600 });
    assert.deepEqual(readOvhCredentials(quoted), { applicationKey: AK, applicationSecret: AS, consumerKey: CK, endpoint: 'ovh-ca' });
  });

  it('the endpoint may come from the file (dns_ovh_endpoint); the option wins', async (t) => {
    const api = await fake(t);
    const p = createOvhProvider({ credentialsFile: credentialsFile({ extra: `dns_ovh_endpoint = ${api.url}` }), zone: 'example.test' });
    await p.present(rec('example.test', 'from-file-endpoint'));
    assert.equal(api.records('example.test').length, 1);
    assert.throws(
      () => createOvhProvider({ credentialsFile: credentialsFile() }),
      (e: unknown) => e instanceof InvalidInputError && e.data.option === 'endpoint',
    );
  });

  it('ovhFromOptions: unknown or missing keys and bad endpoints are typed errors before anything is read or sent', async (t) => {
    const api = await fake(t);
    const file = credentialsFile();
    const invalid = (raw: Record<string, string>, option: string): void => {
      assert.throws(() => ovhFromOptions(raw), (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidOption && e.step === 'input' && e.data.option === option);
    };
    invalid({ endpoint: api.url, credentialsFile: file, applicationSecret: AS }, 'applicationSecret');
    invalid({ endpoint: api.url }, 'credentialsFile');
    invalid({ endpoint: 'ovh-mars', credentialsFile: file }, 'endpoint');
    invalid({ endpoint: 'http://api.example.test/1.0', credentialsFile: file }, 'endpoint'); // http only on loopback
    invalid({ endpoint: api.url, credentialsFile: file, ttl: 'soon' }, 'ttl');
    invalid({ endpoint: api.url, credentialsFile: file, zone: 'bad zone' }, 'zone');
    assert.equal(api.requests.length, 0);
    const p = ovhFromOptions({ endpoint: api.url, credentialsFile: file, zone: 'example.test', ttl: '300' });
    await p.present(rec('example.test', 'from-cli'));
    assert.deepEqual(api.records('example.test').map((r) => [r.subDomain, r.target, r.ttl]), [['_acme-challenge', '"from-cli"', 300]]);
    assert.equal(api.refreshes('example.test'), 1);
  });
});
