/**
 * newOrder options through AcmeClient against the scripted fake CA, over real sockets: the requested
 * validity (RFC 8555 §7.4) in the order and in the issued leaf, certificate profiles
 * (draft-aaron-acme-profiles) sent and seen, and bad options refused before any request.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { AcmeClient, type NewOrderOptions } from '../../src/acme/client.js';
import { fetchDirectory } from '../../src/acme/directory.js';
import { toAccountKey } from '../../src/acme/account-key.js';
import { HttpTransport } from '../../src/acme/transport.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { AcmeProblemError, InvalidInputError } from '../../src/errors.js';
import { caught } from '../support/caught.js';
import { driveOrder } from '../support/drive-order.js';
import { FakeAcmeServer, type StartOptions } from '../support/fake-acme-server.js';

const T = { timeout: 30_000 };
const A_TEST = [{ type: 'dns' as const, value: 'a.test' }];
const PROFILES = { classic: 'The same profile you know and love', shortlived: 'A short-lived certificate' };

interface Env {
  ca: FakeAcmeServer;
  transport: HttpTransport;
  client: AcmeClient;
}

async function setup(t: TestContext, start: StartOptions = {}): Promise<Env> {
  const ca = await FakeAcmeServer.start(start);
  const transport = new HttpTransport({ timeoutMs: 10_000 });
  t.after(async () => {
    transport.close();
    await ca.close();
  });
  const directory = await fetchDirectory(transport, ca.directoryUrl);
  const k = await generateKeyPair('ec256');
  const client = new AcmeClient({ directory, transport, accountKey: await toAccountKey(k.privateKey, k.publicKey, 'ES256') });
  await client.newAccount({ termsOfServiceAgreed: true });
  return { ca, transport, client };
}

/** Asserts `p` fails with ERR_INVALID_OPTION at step input for `option`, having sent nothing. */
async function refusedBeforeAnyRequest(env: Env, p: () => Promise<unknown>, option: string, re: RegExp): Promise<InvalidInputError> {
  const sent = env.transport.requestCount;
  const seen = env.ca.calls.length;
  const err = await caught(p(), InvalidInputError);
  assert.equal(err.code, 'ERR_INVALID_OPTION');
  assert.equal(err.step, 'input');
  assert.equal(err.data.option, option);
  assert.match(err.message, re);
  assert.equal(env.transport.requestCount, sent, 'no request sent');
  assert.equal(env.ca.calls.length, seen, 'no request seen by the CA');
  return err;
}

describe('newOrder options against the fake CA', () => {
  it('no options: the payload is the identifiers alone, as before', T, async (t) => {
    const { ca, client } = await setup(t);
    const order = await client.newOrder(A_TEST);
    assert.deepEqual(ca.callsTo('newOrder')[0]!.payload, { identifiers: A_TEST });
    assert.deepEqual(ca.orderRequest(order.url), { identifiers: A_TEST, account: client.accountUrl });
    for (const k of ['notBefore', 'notAfter', 'replaces', 'profile']) assert.equal(k in order, false, k);
  });

  it('§7.4 notBefore/notAfter as Dates: sent as RFC 3339, echoed by the order, and exactly the leaf validity', T, async (t) => {
    const { ca, client } = await setup(t);
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
    const notAfter = new Date(notBefore.getTime() + 7 * 86_400_000 + 1000);

    const { placed, order, certPem } = await driveOrder(client, ['a.test'], { notBefore, notAfter });

    const sent = ca.orderRequest(order.url)!;
    assert.equal(sent.notBefore, notBefore.toISOString());
    assert.equal(sent.notAfter, notAfter.toISOString());
    assert.deepEqual(ca.callsTo('newOrder')[0]!.payload, { identifiers: A_TEST, notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString() });
    assert.equal(placed.notBefore, notBefore.toISOString());
    assert.equal(placed.notAfter, notAfter.toISOString());
    const leaf = new X509Certificate(certPem);
    assert.equal(new Date(leaf.validFrom).getTime(), notBefore.getTime());
    assert.equal(new Date(leaf.validTo).getTime(), notAfter.getTime());
    assert.equal(leaf.checkIssued(new X509Certificate(ca.chainOf(order.url)!.slice(certPem.length))), true);
  });

  it('§7.4 RFC 3339 strings with an offset are sent verbatim; the leaf has the instants they name', T, async (t) => {
    const { ca, client } = await setup(t);
    const opts: NewOrderOptions = { notBefore: '2031-05-06T07:08:09+02:00', notAfter: '2031-06-06T07:08:09-05:30' };
    const { order, certPem } = await driveOrder(client, ['a.test', 'www.a.test'], opts);
    assert.equal(ca.orderRequest(order.url)!.notBefore, '2031-05-06T07:08:09+02:00');
    assert.equal(ca.orderRequest(order.url)!.notAfter, '2031-06-06T07:08:09-05:30');
    const leaf = new X509Certificate(certPem);
    assert.equal(new Date(leaf.validFrom).toISOString(), '2031-05-06T05:08:09.000Z');
    assert.equal(new Date(leaf.validTo).toISOString(), '2031-06-06T12:38:09.000Z');
    assert.equal(leaf.subjectAltName, 'DNS:a.test, DNS:www.a.test');
  });

  it('notAfter alone: sent alone; the leaf ends then', T, async (t) => {
    const { ca, client } = await setup(t);
    const notAfter = '2030-03-04T05:06:07Z';
    const { order, certPem } = await driveOrder(client, ['a.test'], { notAfter });
    assert.deepEqual(ca.callsTo('newOrder')[0]!.payload, { identifiers: A_TEST, notAfter });
    assert.equal(new Date(new X509Certificate(certPem).validTo).toISOString(), '2030-03-04T05:06:07.000Z');
    assert.equal(ca.orderRequest(order.url)!.notBefore, undefined);
  });

  it('notBefore not before notAfter, or a timestamp that is not RFC 3339: typed error, zero requests', T, async (t) => {
    const env = await setup(t);
    const at = new Date('2030-01-01T00:00:00Z');
    await refusedBeforeAnyRequest(env, () => env.client.newOrder(A_TEST, { notBefore: at, notAfter: at }), 'notAfter', /must be before/);
    await refusedBeforeAnyRequest(env, () => env.client.newOrder(A_TEST, { notBefore: '2030-01-02T00:00:00Z', notAfter: at }), 'notAfter', /must be before/);
    await refusedBeforeAnyRequest(env, () => env.client.newOrder(A_TEST, { notBefore: 'tomorrow' }), 'notBefore', /RFC 3339/);
    await refusedBeforeAnyRequest(env, () => env.client.newOrder(A_TEST, { notAfter: new Date(Number.NaN) }), 'notAfter', /invalid Date/);
    await refusedBeforeAnyRequest(env, () => env.client.newOrder(A_TEST, { replaces: 'a.b.c' }), 'replaces', /ARI certID/);
  });

  it('profiles: the directory lists them; the chosen one is sent, seen and echoed', T, async (t) => {
    const { ca, client } = await setup(t, { profiles: PROFILES });
    assert.deepEqual(client.profiles, PROFILES);
    const { placed, order } = await driveOrder(client, ['a.test'], { profile: 'shortlived' });
    assert.equal(ca.orderRequest(order.url)!.profile, 'shortlived');
    assert.deepEqual(ca.callsTo('newOrder')[0]!.payload, { identifiers: A_TEST, profile: 'shortlived' });
    assert.equal(placed.profile, 'shortlived');
    assert.equal(order.profile, 'shortlived');
  });

  it('an unknown profile: typed error naming the offered ones, zero requests', T, async (t) => {
    const env = await setup(t, { profiles: PROFILES });
    const err = await refusedBeforeAnyRequest(env, () => env.client.newOrder(A_TEST, { profile: 'tlsclient' }), 'profile', /unknown certificate profile "tlsclient": the directory lists classic, shortlived/);
    assert.deepEqual(err.data.available, ['classic', 'shortlived']);
    assert.equal(env.ca.count('newOrder'), 0);
  });

  it('a profile when the directory lists none: typed error, zero requests', T, async (t) => {
    const env = await setup(t);
    assert.deepEqual(env.client.profiles, {});
    await refusedBeforeAnyRequest(env, () => env.client.newOrder(A_TEST, { profile: 'classic' }), 'profile', /the directory lists no profiles/);
  });

  it('the fake CA itself refuses an unknown profile (400 invalidProfile) and inverted bounds (400 malformed)', T, async (t) => {
    const { ca, client } = await setup(t, { profiles: PROFILES });
    /** The problem the CA answers to a raw newOrder payload, as `status type`. */
    const refusal = async (payload: unknown): Promise<string> => {
      const err = await caught(client.post(client.directory.newOrder, payload, 'newOrder'), AcmeProblemError);
      return `${err.problem?.status} ${err.problem?.type.replace('urn:ietf:params:acme:error:', '')}`;
    };
    assert.equal(await refusal({ identifiers: A_TEST, profile: 'nope' }), '400 invalidProfile');
    assert.equal(await refusal({ identifiers: A_TEST, notBefore: '2030-01-02T00:00:00Z', notAfter: '2030-01-01T00:00:00Z' }), '400 malformed');
    assert.equal(await refusal({ identifiers: A_TEST, notBefore: 'soon' }), '400 malformed');
    assert.equal(ca.count('newOrder'), 3);
  });
});
