/**
 * ACME Renewal Information (RFC 9773) through AcmeClient against the scripted fake CA, over real sockets:
 * the certID of a certificate the CA issued equals the CA's own (§4.1), the unauthenticated GET of the
 * renewalInfo resource and its window, explanation and Retry-After (§4.2, §4.3), malformed answers,
 * unknown certificates, a CA without ARI, and `replaces` on the renewal order (§5).
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { AcmeClient } from '../../src/acme/client.js';
import { certificateIdentifier } from '../../src/acme/ari.js';
import { fetchDirectory } from '../../src/acme/directory.js';
import { toAccountKey } from '../../src/acme/account-key.js';
import { HttpTransport } from '../../src/acme/transport.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { AcmeProblemError, InvalidInputError, ProtocolError } from '../../src/errors.js';
import { caught } from '../support/caught.js';
import { driveOrder } from '../support/drive-order.js';
import { FakeAcmeServer, type StartOptions } from '../support/fake-acme-server.js';

const T = { timeout: 30_000 };

interface Env {
  ca: FakeAcmeServer;
  transport: HttpTransport;
  client: AcmeClient;
}

async function setup(t: TestContext, start: StartOptions = { ari: true }): Promise<Env> {
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

/** Requests the client sent, and requests the CA saw, from now on. */
function counter(env: Env): () => { client: number; ca: number } {
  const c0 = env.transport.requestCount;
  const s0 = env.ca.calls.length;
  return () => ({ client: env.transport.requestCount - c0, ca: env.ca.calls.length - s0 });
}

describe('RFC 9773 ARI against the fake CA', () => {
  it('§4.1: the certID of an issued leaf equals the one the CA computed from its key identifier and serial', T, async (t) => {
    const { ca, client } = await setup(t);
    const { certPem, order } = await driveOrder(client, ['a.test']);
    const expected = ca.certIdOf(order.url);
    assert.ok(expected);
    assert.equal(certificateIdentifier(certPem), expected);
    // The serial part decodes to the serial the leaf carries (1000 + order id here: no high bit).
    const serialHex = Buffer.from(expected.split('.')[1]!, 'base64url').toString('hex');
    assert.equal(BigInt(`0x${serialHex}`), BigInt(`0x${new X509Certificate(certPem).serialNumber}`));
    assert.notEqual(serialHex.slice(0, 2), '00');
  });

  it('§4.1: a serial with the high bit set keeps its leading 00, on both sides', T, async (t) => {
    const { ca, client } = await setup(t, { ari: true, serialBase: 2n ** 71n });
    const { certPem, order } = await driveOrder(client, ['a.test']);
    const id = certificateIdentifier(certPem);
    assert.equal(id, ca.certIdOf(order.url));
    const serial = Buffer.from(id.split('.')[1]!, 'base64url');
    assert.equal(serial.length, 10);
    assert.equal(serial[0], 0x00);
    assert.equal(serial[1], 0x80);
  });

  it('§4.2: an unauthenticated GET of {renewalInfo}/{certID}; the scripted window, explanation and Retry-After (seconds) exactly', T, async (t) => {
    const env = await setup(t);
    const { ca, client } = env;
    assert.equal(client.supportsRenewalInfo, true);
    assert.equal(client.directory.renewalInfo, ca.renewalInfoUrl);
    const { certPem } = await driveOrder(client, ['a.test']);
    const certId = certificateIdentifier(certPem);
    ca.setRenewalInfo(certId, {
      start: '2030-01-02T03:04:05Z',
      end: '2030-01-03T03:04:05.5+02:00',
      explanationURL: 'https://ca.test/incident',
      retryAfter: '3600',
    });
    const count = counter(env);

    const info = await client.getRenewalInfo(certPem);

    assert.deepEqual(count(), { client: 1, ca: 1 });
    assert.equal(info.suggestedWindow.start.toISOString(), '2030-01-02T03:04:05.000Z');
    assert.equal(info.suggestedWindow.end.toISOString(), '2030-01-03T01:04:05.500Z');
    assert.equal(info.explanationUrl, 'https://ca.test/incident');
    assert.equal(info.retryAfterMs, 3_600_000);
    const [call] = ca.callsTo('renewalInfo');
    assert.equal(call!.method, 'GET');
    assert.equal(call!.path, `/renewal-info/${certId}`);
    assert.equal(call!.kid, undefined); // no JWS: an unauthenticated GET
    assert.equal(call!.status, 200);

    // The certID itself works as well as the certificate.
    const again = await client.getRenewalInfo(certId);
    assert.deepEqual(again, info);
  });

  it('§4.2: the default window of an issued certificate lies inside its validity; Retry-After default 6 h', T, async (t) => {
    const { client } = await setup(t);
    const { certPem } = await driveOrder(client, ['a.test']);
    const leaf = new X509Certificate(certPem);
    const from = new Date(leaf.validFrom).getTime();
    const to = new Date(leaf.validTo).getTime();
    const info = await client.getRenewalInfo(certPem);
    // The fake CA's default: two thirds to three quarters of the lifetime (ms precision over JSON).
    assert.ok(Math.abs(info.suggestedWindow.start.getTime() - (from + ((to - from) * 2) / 3)) <= 1);
    assert.ok(Math.abs(info.suggestedWindow.end.getTime() - (from + ((to - from) * 3) / 4)) <= 1);
    assert.equal(info.retryAfterMs, 21_600_000);
    assert.equal(info.explanationUrl, undefined);
  });

  it('§4.3: Retry-After as an HTTP-date is honoured; none gives undefined', T, async (t) => {
    const { ca, client } = await setup(t);
    const { certPem } = await driveOrder(client, ['a.test']);
    const certId = certificateIdentifier(certPem);
    const at = new Date(Math.ceil((Date.now() + 120_000) / 1000) * 1000);
    ca.setRenewalInfo(certId, { start: new Date('2030-01-01T00:00:00Z'), end: new Date('2030-01-02T00:00:00Z'), retryAfter: at.toUTCString() });
    const before = Date.now();
    const info = await client.getRenewalInfo(certId);
    const after = Date.now();
    assert.ok(info.retryAfterMs !== undefined);
    assert.ok(info.retryAfterMs <= at.getTime() - before && info.retryAfterMs >= at.getTime() - after, String(info.retryAfterMs));
    assert.ok(info.retryAfterMs > 115_000 && info.retryAfterMs <= 121_000);

    ca.setRenewalInfo(certId, { start: new Date('2030-01-01T00:00:00Z'), end: new Date('2030-01-02T00:00:00Z') });
    assert.equal((await client.getRenewalInfo(certId)).retryAfterMs, undefined);
  });

  it('§4.2: malformed answers are ProtocolErrors at step renewalInfo', T, async (t) => {
    const { ca, client } = await setup(t);
    const { certPem } = await driveOrder(client, ['a.test']);
    const certId = certificateIdentifier(certPem);
    const window = (start: string, end: string) => ca.setRenewalInfo(certId, { start, end, retryAfter: '60' });

    const expectMalformed = async (reason: string): Promise<void> => {
      const err = await caught(client.getRenewalInfo(certId), ProtocolError);
      assert.equal(err.code, 'ERR_ACME_PROTOCOL');
      assert.equal(err.step, 'renewalInfo');
      assert.equal(err.data.reason, reason);
      assert.equal(err.data.certId, certId);
    };
    window('2030-01-02T00:00:00Z', '2030-01-02T00:00:00Z');
    await expectMalformed('emptyWindow');
    window('2030-01-03T00:00:00Z', '2030-01-02T00:00:00Z');
    await expectMalformed('emptyWindow');
    window('2030-01-02', '2030-01-03T00:00:00Z');
    await expectMalformed('badTimestamp');
    window('2030-01-02T00:00:00Z', '2030-01-03T00:00:00Z');
    ca.script('renewalInfo', { raw: '{"suggestedWindow": {' });
    await expectMalformed('notJson');
    ca.script('renewalInfo', { body: () => ({ explanationURL: 'https://ca.test/' }) });
    await expectMalformed('noWindow');
    ca.script('renewalInfo', { body: (normal: Record<string, unknown>) => ({ ...normal, explanationURL: ['x'] }) });
    await expectMalformed('badExplanationUrl');
    ca.assertScriptsConsumed();
    // And the same window unscripted is fine again.
    assert.equal((await client.getRenewalInfo(certId)).suggestedWindow.end.toISOString(), '2030-01-03T00:00:00.000Z');
  });

  it('a certID the CA does not know: 404 problem, AcmeProblemError with the certID', T, async (t) => {
    const { client } = await setup(t);
    const err = await caught(client.getRenewalInfo('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE'), AcmeProblemError);
    assert.equal(err.code, 'ERR_ACME_PROBLEM');
    assert.equal(err.step, 'renewalInfo');
    assert.equal(err.problem?.status, 404);
    assert.equal(err.problem?.type, 'urn:ietf:params:acme:error:malformed');
    assert.equal(err.data.certId, 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
  });

  it('a 503 with Retry-After and a problem: AcmeProblemError carrying retryAfterMs; without a problem: ProtocolError', T, async (t) => {
    const { ca, client } = await setup(t);
    const { certPem } = await driveOrder(client, ['a.test']);
    ca.script('renewalInfo', { problem: 'serverInternal', status: 503, headers: { 'retry-after': '30' } });
    const err = await caught(client.getRenewalInfo(certPem), AcmeProblemError);
    assert.equal(err.problem?.status, 503);
    assert.equal(err.data.retryAfterMs, 30_000);
    ca.script('renewalInfo', { status: 502 });
    const perr = await caught(client.getRenewalInfo(certPem), ProtocolError);
    assert.equal(perr.data.status, 502);
    assert.equal(perr.step, 'renewalInfo');
  });

  it('a directory without renewalInfo: ProtocolError before any request', T, async (t) => {
    const env = await setup(t, {});
    assert.equal(env.client.supportsRenewalInfo, false);
    const { certPem } = await driveOrder(env.client, ['a.test']);
    const count = counter(env);
    const err = await caught(env.client.getRenewalInfo(certPem), ProtocolError);
    assert.equal(err.code, 'ERR_ACME_PROTOCOL');
    assert.equal(err.step, 'renewalInfo');
    assert.equal(err.data.missing, 'renewalInfo');
    assert.deepEqual(count(), { client: 0, ca: 0 });
  });

  it('neither a certID nor a certificate with an AKI: InvalidInputError before any request', T, async (t) => {
    const env = await setup(t);
    const count = counter(env);
    for (const bad of ['not-a-cert-id', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', new Uint8Array([1, 2, 3])]) {
      const err = await caught(env.client.getRenewalInfo(bad), InvalidInputError);
      assert.equal(err.code, 'ERR_INVALID_OPTION');
      assert.equal(err.step, 'input');
    }
    assert.deepEqual(count(), { client: 0, ca: 0 });
  });

  it('§5: replaces on the renewal order is sent, seen and echoed; a second replacement is refused (409 alreadyReplaced)', T, async (t) => {
    const { ca, client } = await setup(t);
    const first = await driveOrder(client, ['a.test', 'www.a.test']);
    const certId = certificateIdentifier(first.certPem);

    const renewal = await driveOrder(client, ['a.test'], { replaces: certId });

    assert.equal(ca.orderRequest(renewal.order.url)?.replaces, certId);
    const [, newOrderCall] = ca.callsTo('newOrder');
    assert.deepEqual(newOrderCall!.payload, { identifiers: [{ type: 'dns', value: 'a.test' }], replaces: certId });
    assert.equal(renewal.placed.replaces, certId);
    assert.equal(ca.replacedBy(certId), renewal.order.url);
    assert.equal(ca.orderRequest(first.order.url)?.replaces, undefined);

    const err = await caught(client.newOrder([{ type: 'dns', value: 'a.test' }], { replaces: certId }), AcmeProblemError);
    assert.equal(err.step, 'newOrder');
    assert.equal(err.problem?.status, 409);
    assert.equal(err.problem?.type, 'urn:ietf:params:acme:error:alreadyReplaced');
    // The renewal's own certificate can be replaced in turn.
    const third = await client.newOrder([{ type: 'dns', value: 'a.test' }], { replaces: certificateIdentifier(renewal.certPem) });
    assert.equal(third.status, 'pending');
  });

  it('§5: replaces naming no certificate the CA issued, or one for other names, is refused by the CA (400 malformed)', T, async (t) => {
    const { ca, client } = await setup(t);
    const unknown = await caught(client.newOrder([{ type: 'dns', value: 'a.test' }], { replaces: 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE' }), AcmeProblemError);
    assert.equal(unknown.problem?.status, 400);
    assert.equal(unknown.problem?.type, 'urn:ietf:params:acme:error:malformed');
    assert.match(unknown.problem?.detail ?? '', /no such certificate issued here/);

    const { certPem } = await driveOrder(client, ['a.test']);
    const other = await caught(client.newOrder([{ type: 'dns', value: 'b.test' }], { replaces: certificateIdentifier(certPem) }), AcmeProblemError);
    assert.equal(other.problem?.status, 400);
    assert.match(other.problem?.detail ?? '', /shares no identifier/);
    assert.equal(ca.replacedBy(certificateIdentifier(certPem)), undefined);
  });
});
