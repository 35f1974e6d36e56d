/**
 * dns-01 end to end (RFC 8555 §8.4) with real servers only: Pebble validates through a BIND on loopback
 * (`-dnsserver`), the rfc2136 provider publishes the TXT values with TSIG-signed updates, and AcmeClient
 * drives one order for `example.test` and `*.example.test`. Both authorizations' values live on the same
 * name at once (§7.1.3: the wildcard's authorization is for the base name), both are published and seen
 * at BIND before either challenge is answered, and cleanup leaves no TXT behind.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { AcmeClient } from '../../src/acme/client.js';
import { fetchDirectory } from '../../src/acme/directory.js';
import { keyAuthorization, toAccountKey } from '../../src/acme/account-key.js';
import { HttpTransport } from '../../src/acme/transport.js';
import type { Authorization, Order } from '../../src/acme/types.js';
import { splitPemChain } from '../../src/crypto/certificate.js';
import { createCsr } from '../../src/crypto/csr.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { challengeRecordName, type Dns01Record } from '../../src/dns/provider.js';
import { waitForTxt } from '../../src/dns/propagation.js';
import { createRfc2136Provider } from '../../src/dns/rfc2136.js';
import { freePort } from '../../src/net/free-port.js';
import { findPebbleBinaries } from '../../src/pebble/install.js';
import { startPebble, type PebbleInstance } from '../../src/pebble/pebble-server.js';
import { bindMissing, startBind, txtAt, type BindInstance } from '../support/bind-server.js';
import { opensslVerify, sanNames } from '../support/pebble-harness.js';

const skip = bindMissing() ?? (findPebbleBinaries() === null ? 'Pebble is not installed' : undefined);
const POLL_MS = 50;
const DEADLINE_MS = 20_000;

async function until<T>(what: string, get: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const v = await get();
    if (done(v)) return v;
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(v)} after ${DEADLINE_MS} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

describe('dns-01 through BIND and Pebble: apex + wildcard in one order', { skip, timeout: 60_000 }, () => {
  let bind: BindInstance;
  let pebble: PebbleInstance;
  let transport: HttpTransport;

  before(async () => {
    bind = await startBind({ zone: 'example.test' });
    pebble = await startPebble({ httpPort: await freePort(), dnsServer: bind.address });
    transport = new HttpTransport({ caPem: pebble.caPem, timeoutMs: 10_000 });
  });
  after(async () => {
    transport?.close();
    await pebble?.stop();
    await bind?.stop();
  });

  it('issues a certificate whose SANs are exactly both names, and leaves no TXT', async () => {
    assert.equal(pebble.dnsAddress, bind.address);
    const k = await generateKeyPair('ec256');
    const accountKey = await toAccountKey(k.privateKey, k.publicKey, 'ES256');
    const client = new AcmeClient({ directory: await fetchDirectory(transport, pebble.directoryUrl), transport, accountKey });
    const account = await client.newAccount({ termsOfServiceAgreed: true });
    assert.equal(account.status, 'valid');

    const names = ['example.test', '*.example.test'];
    let order: Order = await client.newOrder(names.map((value) => ({ type: 'dns' as const, value })));
    assert.equal(order.status, 'pending');
    assert.equal(order.authorizations.length, 2);

    const authzs: Authorization[] = await Promise.all(order.authorizations.map((u) => client.getAuthorization(u)));
    assert.deepEqual(authzs.map((a) => [a.identifier.value, a.wildcard === true]).sort(), [['example.test', false], ['example.test', true]]);

    const provider = createRfc2136Provider({ server: bind.address, keyName: bind.keyName, keySecret: bind.keySecret });
    const work = await Promise.all(
      authzs.map(async (a) => {
        const challenge = a.challenges.find((c) => c.type === 'dns-01');
        assert.ok(challenge, `a dns-01 challenge for ${a.identifier.value}`);
        const ka = await keyAuthorization(challenge.token, accountKey.jwk);
        const record: Dns01Record = {
          domain: a.identifier.value,
          fqdn: challengeRecordName(a.wildcard === true ? `*.${a.identifier.value}` : a.identifier.value),
          value: createHash('sha256').update(ka).digest('base64url'),
        };
        return { authz: a, challenge, record };
      }),
    );
    assert.deepEqual(work.map((w) => w.record.fqdn), ['_acme-challenge.example.test.', '_acme-challenge.example.test.']);
    assert.notEqual(work[0]!.record.value, work[1]!.record.value);

    // Both values published, and served by BIND, before either challenge is answered.
    for (const w of work) await provider.present(w.record);
    for (const w of work) await waitForTxt({ fqdn: w.record.fqdn, value: w.record.value, servers: [bind.address], timeoutMs: 5_000, intervalMs: 50 });
    assert.deepEqual(await txtAt(bind, '_acme-challenge.example.test'), work.map((w) => w.record.value).sort());

    try {
      for (const w of work) await client.respondChallenge(w.challenge.url);
      for (const w of work) {
        const a = await until(`authorization ${w.authz.url}`, () => client.getAuthorization(w.authz.url), (x) => x.status !== 'pending');
        assert.equal(a.status, 'valid', JSON.stringify(a.challenges.find((c) => c.type === 'dns-01')?.error));
      }
      order = await until('order ready', () => client.getOrder(order.url), (o) => o.status !== 'pending');
      assert.equal(order.status, 'ready');

      const certKey = await generateKeyPair('ec256');
      const csr = createCsr({ privateKey: certKey.privateKey, names });
      await client.finalize(order, csr.der);
      order = await until('order valid', () => client.getOrder(order.url), (o) => o.status !== 'processing' && o.status !== 'ready');
      assert.equal(order.status, 'valid');
      assert.ok(order.certificate);

      const { pem } = await client.downloadCertificate(order.certificate);
      const [leaf, ...chain] = splitPemChain(pem);
      assert.ok(leaf);
      assert.deepEqual(sanNames(leaf).sort(), ['*.example.test', 'example.test']);
      assert.match(opensslVerify(await pebble.fetchRootPem(), chain.join(''), leaf), /: OK$/);
    } finally {
      for (const w of work) await provider.cleanup(w.record);
    }
    assert.deepEqual(await txtAt(bind, '_acme-challenge.example.test'), []);
  });
});
