/**
 * Account management, External Account Binding, key rollover and revocation against a real Pebble
 * (default 5% bad-nonce rejection on): RFC 8555 §7.3.1 onlyReturnExisting, §7.3.2 account update,
 * §7.3.6 deactivation, §7.3.4 EAB, §7.3.5 keyChange, §7.6 revokeCert by account key and by certificate key.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import { flattenedVerify } from 'jose/jws/flattened/verify';
import { AcmeClient } from '../../src/acme/client.js';
import { fetchDirectory } from '../../src/acme/directory.js';
import { decodeMacKey, externalAccountBinding } from '../../src/acme/eab.js';
import { obtainCertificate, type FlowHooks, type IssuedCertificate } from '../../src/acme/flow.js';
import { type AccountKey } from '../../src/acme/jws.js';
import { toAccountKey } from '../../src/acme/account-key.js';
import { HttpTransport } from '../../src/acme/transport.js';
import type { Directory } from '../../src/acme/types.js';
import { generateKeyPair, loadPrivateKey } from '../../src/crypto/keys.js';
import { AcmeProblemError, ErrorCode, InvalidInputError } from '../../src/errors.js';
import { freePort } from '../../src/net/free-port.js';
import { startPebble, type PebbleInstance } from '../../src/pebble/pebble-server.js';
import { ChallengeStore } from '../../src/responder/challenge-store.js';
import { listenHttp01, type Http01Listener } from '../../src/responder/standalone.js';
import { startHarness, type Harness } from '../support/pebble-harness.js';

const ERR = 'urn:ietf:params:acme:error:';
const T = { timeout: 60_000 };
const MAC_KEY = 'szoz04GNsfXm0zFEY_rpa-1EbvMbFoo1FeXUtROe28Y=';
/** Pebble 2.4.0 decodes its configured MAC keys as unpadded base64url and refuses to start on '='. */
const MAC_KEY_FOR_PEBBLE = MAC_KEY.replace(/=+$/, '');

async function newKey(): Promise<AccountKey> {
  const k = await generateKeyPair('ec256');
  return toAccountKey(k.privateKey, k.publicKey, 'ES256');
}

/** Rejects with an AcmeProblemError (ERR_ACME_PROBLEM) of exactly this problem type. */
async function rejectsProblem(p: Promise<unknown>, short: string): Promise<AcmeProblemError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof AcmeProblemError, `expected AcmeProblemError ${short}, got ${String(caught)}`);
  assert.equal(caught.code, ErrorCode.acmeProblem);
  assert.equal(caught.problem?.type, `${ERR}${short}`, caught.message);
  return caught;
}

/** GET on Pebble's management API, trusting only its throwaway CA. */
function mgmtGet(pebble: PebbleInstance, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(`${pebble.managementUrl}${path}`, { ca: pebble.caPem }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

describe('accounts and revocation against Pebble', () => {
  let h: Harness;
  let transport: HttpTransport;
  let directory: Directory;
  let challenges: ChallengeStore;
  let responder: Http01Listener;

  const client = (accountKey: AccountKey, accountUrl?: string): AcmeClient =>
    new AcmeClient({ directory, transport, accountKey, accountUrl });

  const hooks = (): FlowHooks => ({
    presentChallenge: (c) => challenges.present(c),
    cleanupChallenge: (c) => challenges.cleanup(c),
    progress: () => {},
    checkpoint: async () => {},
  });

  const issue = (c: AcmeClient, name: string): Promise<IssuedCertificate> =>
    obtainCertificate(c, { names: [name], keyType: 'ec256', poll: { initialMs: 50, maxMs: 250, timeoutMs: 30_000 } }, hooks());

  before(async () => {
    h = await startHarness();
    transport = new HttpTransport({ caPem: h.pebble.caPem, timeoutMs: 10_000 });
    directory = await fetchDirectory(transport, h.pebble.directoryUrl);
    challenges = new ChallengeStore();
    responder = await listenHttp01(challenges, { port: h.httpPort });
  });
  after(async () => {
    await responder?.close();
    transport?.close();
    await h?.close();
  });

  it('§7.3.1 onlyReturnExisting finds the account of a known key; an unknown key gets accountDoesNotExist', T, async () => {
    const key = await newKey();
    const created = await client(key).newAccount({ termsOfServiceAgreed: true });
    assert.equal(created.status, 'valid');
    const found = await client(key).newAccount({ onlyReturnExisting: true });
    assert.equal(found.url, created.url);
    assert.equal(found.status, 'valid');
    const stranger = client(await newKey());
    const err = await rejectsProblem(stranger.newAccount({ onlyReturnExisting: true }), 'accountDoesNotExist');
    assert.equal(err.step, 'newAccount');
    assert.equal(stranger.accountUrl, undefined);
  });

  it('§7.3.2 updateAccount replaces the contacts; §7.3.6 deactivateAccount, then its kid is unauthorized', T, async () => {
    const c = client(await newKey());
    const acct = await c.newAccount({ termsOfServiceAgreed: true, contact: ['mailto:old@example.test'] });
    const updated = await c.updateAccount({ contact: ['mailto:new@example.test', 'mailto:ops@example.test'] });
    assert.equal(updated.url, acct.url);
    assert.equal(updated.status, 'valid');
    assert.deepEqual(updated.contact, ['mailto:new@example.test', 'mailto:ops@example.test']);
    assert.deepEqual((await c.getAccount()).contact, ['mailto:new@example.test', 'mailto:ops@example.test']);

    const gone = await c.deactivateAccount();
    assert.equal(gone.status, 'deactivated');
    await rejectsProblem(c.newOrder([{ type: 'dns', value: 'after-deactivation.test' }]), 'unauthorized');
    await rejectsProblem(c.updateAccount({ contact: [] }), 'unauthorized');
  });

  it('account operations without an account URL fail before any request', async () => {
    const c = client(await newKey());
    const before = c.requestCount;
    await assert.rejects(c.updateAccount({ contact: [] }), InvalidInputError);
    await assert.rejects(c.deactivateAccount(), InvalidInputError);
    await assert.rejects(c.keyChange(await newKey()), InvalidInputError);
    await assert.rejects(c.revokeCertificate(new Uint8Array([0x30, 0]), { signWith: 'account' }), InvalidInputError);
    assert.equal(c.requestCount, before);
  });

  it('§7.3.5 keyChange: the client signs with the new key after; the old key no longer finds the account', T, async () => {
    const oldKey = await newKey();
    const c = client(oldKey);
    const acct = await c.newAccount({ termsOfServiceAgreed: true });
    const next = await newKey();
    await c.keyChange(next);
    assert.equal(c.accountKey, next);
    assert.equal(c.accountUrl, acct.url);
    // The same client, now signing with the new key under the same kid, still works.
    assert.equal((await c.getAccount()).status, 'valid');
    // The new key finds the account; the old one does not.
    assert.equal((await client(next).newAccount({ onlyReturnExisting: true })).url, acct.url);
    await rejectsProblem(client(oldKey).newAccount({ onlyReturnExisting: true }), 'accountDoesNotExist');
    // A request signed by the old key under the account's kid is refused too.
    await assert.rejects(client(oldKey, acct.url).getAccount(), AcmeProblemError);
  });

  it('§7.3.5 keyChange to a key that already has an account fails and keeps the old key', T, async () => {
    const taken = await newKey();
    await client(taken).newAccount({ termsOfServiceAgreed: true });
    const mine = await newKey();
    const c = client(mine);
    await c.newAccount({ termsOfServiceAgreed: true });
    await assert.rejects(c.keyChange(taken), AcmeProblemError);
    assert.equal(c.accountKey, mine);
    assert.equal((await c.getAccount()).status, 'valid');
  });

  it('§7.6 revoke by the certificate key (reason 1 keyCompromise); a second revocation gets alreadyRevoked', T, async (t) => {
    const owner = client(await newKey());
    await owner.newAccount({ termsOfServiceAgreed: true });
    const cert = await issue(owner, 'revoke-by-cert-key.test');
    const x = new X509Certificate(cert.certPem);
    const certKey = loadPrivateKey(cert.keyPem);
    assert.ok(x.checkPrivateKey(certKey));
    // Signed by the certificate key with a jwk header: any client works, even one with no account.
    const bystander = client(await newKey());
    await bystander.revokeCertificate(x.raw, { reason: 1, signWith: { certKey } });
    assert.equal(bystander.accountUrl, undefined);
    await rejectsProblem(bystander.revokeCertificate(x.raw, { reason: 1, signWith: { certKey } }), 'alreadyRevoked');
    await rejectsProblem(owner.revokeCertificate(x.raw, { signWith: 'account' }), 'alreadyRevoked');

    // Optional cross-check on Pebble's management API, when this Pebble exposes cert status.
    const st = await mgmtGet(h.pebble, `/cert-status-by-serial/${x.serialNumber.toLowerCase()}`);
    if (st.status === 200) {
      const j = JSON.parse(st.body) as { Status?: string };
      assert.equal(j.Status, 'Revoked', st.body);
    }
    t.diagnostic(`management cert-status-by-serial: HTTP ${st.status}`);
  });

  it('§7.6 revoke by the account key that ordered it; a second revocation gets alreadyRevoked', T, async () => {
    const owner = client(await newKey());
    await owner.newAccount({ termsOfServiceAgreed: true });
    const cert = await issue(owner, 'revoke-by-account.test');
    const der = new X509Certificate(cert.certPem).raw;
    // Another account that holds no authorization for the name may not revoke it.
    const other = client(await newKey());
    await other.newAccount({ termsOfServiceAgreed: true });
    await rejectsProblem(other.revokeCertificate(der, { reason: 4, signWith: 'account' }), 'unauthorized');
    await owner.revokeCertificate(der, { reason: 4, signWith: 'account' });
    await rejectsProblem(owner.revokeCertificate(der, { signWith: 'account' }), 'alreadyRevoked');
  });

  it('§7.6 a reason outside RFC 5280 CRLReason is refused before any request', async () => {
    const c = client(await newKey(), 'https://example.invalid/acct/1');
    const before = c.requestCount;
    await assert.rejects(c.revokeCertificate(new Uint8Array([0x30, 0]), { reason: 11, signWith: 'account' }), InvalidInputError);
    await assert.rejects(c.revokeCertificate(new Uint8Array([0x30, 0]), { reason: 7, signWith: 'account' }), InvalidInputError);
    assert.equal(c.requestCount, before);
  });
});

describe('External Account Binding (§7.3.4)', () => {
  it('decodes the MAC key with or without padding and MACs the account JWK with HS256 over {alg, kid, url}', async () => {
    const padded = decodeMacKey(MAC_KEY);
    assert.deepEqual(decodeMacKey(MAC_KEY.replace(/=+$/, '')), padded);
    assert.equal(padded.length, 32);
    assert.throws(() => decodeMacKey('not base64url!'), InvalidInputError);
    assert.throws(() => decodeMacKey(''), InvalidInputError);
    const key = await newKey();
    const jws = await externalAccountBinding('kid-1', MAC_KEY, key.jwk, 'https://ca.test/new-acct');
    const header = JSON.parse(Buffer.from(jws.protected!, 'base64url').toString('utf8')) as Record<string, unknown>;
    assert.deepEqual(header, { alg: 'HS256', kid: 'kid-1', url: 'https://ca.test/new-acct' });
    const v = await flattenedVerify(jws, padded);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(v.payload)), key.jwk);
  });

  describe('against Pebble with externalAccountBindingRequired', () => {
    let pebble: PebbleInstance;
    let transport: HttpTransport;
    let directory: Directory;
    before(async () => {
      pebble = await startPebble({ httpPort: await freePort(), externalAccountMACKeys: { 'kid-1': MAC_KEY_FOR_PEBBLE } });
      transport = new HttpTransport({ caPem: pebble.caPem, timeoutMs: 10_000 });
      directory = await fetchDirectory(transport, pebble.directoryUrl);
    });
    after(async () => {
      transport?.close();
      await pebble?.stop();
    });

    it('announces externalAccountRequired and refuses a newAccount without EAB', T, async () => {
      assert.equal(directory.meta?.externalAccountRequired, true);
      const c = new AcmeClient({ directory, transport, accountKey: await newKey() });
      await rejectsProblem(c.newAccount({ termsOfServiceAgreed: true }), 'externalAccountRequired');
      assert.equal(c.accountUrl, undefined);
    });

    for (const [label, mac] of [['padded', MAC_KEY], ['unpadded', MAC_KEY.replace(/=+$/, '')]] as const) {
      it(`creates a valid account with EAB (${label} MAC key)`, T, async () => {
        const c = new AcmeClient({ directory, transport, accountKey: await newKey() });
        const eab = await c.externalAccountBinding('kid-1', mac);
        const acct = await c.newAccount({ termsOfServiceAgreed: true, externalAccountBinding: eab });
        assert.equal(acct.status, 'valid');
        assert.equal(c.accountUrl, acct.url);
        assert.equal((await c.getAccount()).status, 'valid');
      });
    }

    it('refuses an EAB MACed with the wrong key', T, async () => {
      const c = new AcmeClient({ directory, transport, accountKey: await newKey() });
      const eab = await c.externalAccountBinding('kid-1', Buffer.alloc(32, 7).toString('base64url'));
      await assert.rejects(c.newAccount({ termsOfServiceAgreed: true, externalAccountBinding: eab }), AcmeProblemError);
      assert.equal(c.accountUrl, undefined);
    });
  });
});
