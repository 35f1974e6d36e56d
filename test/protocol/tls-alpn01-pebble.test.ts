/**
 * tls-alpn-01 end to end against a real Pebble (RFC 8737 §3): Pebble's validator connects to the
 * standalone responder (its `tlsPort`), AcmeClient drives newAccount → newOrder → the tls-alpn-01
 * challenges → finalize → download, and the leaf's SANs are checked. Also an IP identifier (RFC 8738 §6:
 * SNI `1.0.0.127.in-addr.arpa`), and a wrong digest refused by the CA. Pebble resolves every name through
 * challtestsrv, whose default answer is 127.0.0.1, where the responder listens.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AcmeClient } from '../../src/acme/client.js';
import { fetchDirectory } from '../../src/acme/directory.js';
import { keyAuthorization, toAccountKey } from '../../src/acme/account-key.js';
import { HttpTransport } from '../../src/acme/transport.js';
import type { Authorization, Identifier, Order } from '../../src/acme/types.js';
import { splitPemChain } from '../../src/crypto/certificate.js';
import { createCsr } from '../../src/crypto/csr.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { createTlsAlpnCertificate } from '../../src/crypto/tls-alpn-certificate.js';
import { freePort } from '../../src/net/free-port.js';
import { startPebble, type PebbleInstance } from '../../src/pebble/pebble-server.js';
import { TlsAlpn01Store } from '../../src/responder/tls-alpn01-store.js';
import { listenTlsAlpn01, type TlsAlpn01Listener } from '../../src/responder/tls-alpn01.js';
import { opensslVerify, sanNames } from '../support/pebble-harness.js';

const T = { timeout: 60_000 };
const POLL_MS = 100;
const POLL_TIMEOUT_MS = 20_000;

async function pollUntil<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + POLL_TIMEOUT_MS;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

describe('tls-alpn-01 against Pebble', () => {
  let pebble: PebbleInstance;
  let listener: TlsAlpn01Listener;
  let transport: HttpTransport;
  let client: AcmeClient;
  let rootPem: string;
  const store = new TlsAlpn01Store();
  const served: string[] = [];

  before(async () => {
    const [httpPort, tlsPort] = [await freePort(), await freePort()];
    listener = await listenTlsAlpn01(store, { port: tlsPort, onServed: (e) => served.push(e.serverName) });
    pebble = await startPebble({ httpPort, tlsPort: listener.port, env: { PEBBLE_AUTHZREUSE: '0' } });
    rootPem = await pebble.fetchRootPem();
    transport = new HttpTransport({ caPem: pebble.caPem, timeoutMs: 10_000 });
    const k = await generateKeyPair('ec256');
    client = new AcmeClient({
      directory: await fetchDirectory(transport, pebble.directoryUrl),
      transport,
      accountKey: await toAccountKey(k.privateKey, k.publicKey, 'ES256'),
    });
    await client.newAccount({ termsOfServiceAgreed: true });
  });

  after(async () => {
    transport?.close();
    await listener?.close();
    await pebble?.stop();
  });

  /**
   * Presents a tls-alpn-01 certificate for each authorization of the order (made from `keyAuthFor`'s
   * key authorization), answers the challenges and polls the authorizations to a final status.
   */
  async function validate(order: Order, keyAuthFor: (real: string) => string = (ka) => ka): Promise<Authorization[]> {
    const authzs = await Promise.all(order.authorizations.map((url) => client.getAuthorization(url)));
    for (const authz of authzs) {
      const challenge = authz.challenges.find((c) => c.type === 'tls-alpn-01');
      assert.ok(challenge, `Pebble offers tls-alpn-01 for ${authz.identifier.value}: ${authz.challenges.map((c) => c.type).join(', ')}`);
      const ka = keyAuthFor(await keyAuthorization(challenge.token, client.accountKey.jwk));
      const cert = await createTlsAlpnCertificate({ identifier: authz.identifier.value, keyAuthorization: ka });
      store.present({ host: authz.identifier.value, ...cert });
    }
    for (const authz of authzs) await client.respondChallenge(authz.challenges.find((c) => c.type === 'tls-alpn-01')!.url);
    const final = await Promise.all(
      authzs.map((a) => pollUntil(() => client.getAuthorization(a.url), (x) => x.status !== 'pending')),
    );
    for (const a of authzs) store.cleanup({ host: a.identifier.value });
    return final;
  }

  /** finalize with a fresh key's CSR, poll the order, download; returns the leaf and chain PEMs. */
  async function finalizeAndDownload(order: Order, names: string[]): Promise<{ leaf: string; chain: string }> {
    const ready = await pollUntil(() => client.getOrder(order.url), (o) => o.status !== 'pending');
    assert.equal(ready.status, 'ready');
    const key = await generateKeyPair('ec256');
    await client.finalize(ready, createCsr({ privateKey: key.privateKey, names }).der);
    const valid = await pollUntil(() => client.getOrder(order.url), (o) => o.status !== 'processing');
    assert.equal(valid.status, 'valid');
    assert.ok(valid.certificate);
    const { pem } = await client.downloadCertificate(valid.certificate);
    const [leaf, ...rest] = splitPemChain(pem);
    return { leaf: leaf!, chain: rest.join('') };
  }

  it('two DNS names validated by tls-alpn-01, finalized, downloaded', T, async () => {
    const names = ['alpn-a.example.test', 'alpn-b.example.test'];
    const identifiers: Identifier[] = names.map((value) => ({ type: 'dns', value }));
    const order = await client.newOrder(identifiers);
    const authzs = await validate(order);
    assert.deepEqual(authzs.map((a) => [a.identifier.value, a.status]).sort(), names.map((n) => [n, 'valid']));
    for (const a of authzs) assert.equal(a.challenges.find((c) => c.type === 'tls-alpn-01')?.status, 'valid');
    // Pebble's validator really came to the responder, with these SNI names.
    for (const n of names) assert.ok(served.includes(n), `served ${served.join(', ')}`);
    assert.equal(store.size, 0);

    const { leaf, chain } = await finalizeAndDownload(order, names);
    assert.deepEqual(sanNames(leaf).sort(), names);
    assert.match(opensslVerify(rootPem, chain, leaf), /: OK$/);
  });

  it('an IP identifier (RFC 8738 §6): SNI 1.0.0.127.in-addr.arpa, an iPAddress SAN', T, async () => {
    const order = await client.newOrder([{ type: 'ip', value: '127.0.0.1' }]);
    const [authz] = await validate(order);
    assert.equal(authz?.status, 'valid', JSON.stringify(authz?.challenges));
    assert.ok(served.includes('1.0.0.127.in-addr.arpa'), `served ${served.join(', ')}`);
    const { leaf } = await finalizeAndDownload(order, ['127.0.0.1']);
    assert.deepEqual(sanNames(leaf), ['127.0.0.1']);
  });

  it('a certificate carrying the wrong digest is refused by the CA', T, async () => {
    const order = await client.newOrder([{ type: 'dns', value: 'alpn-wrong.example.test' }]);
    const [authz] = await validate(order, (ka) => `${ka}x`);
    assert.equal(authz?.status, 'invalid');
    const challenge = authz?.challenges.find((c) => c.type === 'tls-alpn-01');
    const error = challenge?.error as { type?: string; detail?: string } | undefined;
    assert.equal(error?.type, 'urn:ietf:params:acme:error:unauthorized');
    assert.match(error?.detail ?? '', /acmeValidation extension value/);
  });
});
