/**
 * RFC 8555 §7.5.2: when an order fails, the authorizations it left pending are deactivated so they do
 * not linger at the CA; final ones (valid, invalid) are left alone. Against the scripted fake CA.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AcmeClient } from '../../src/acme/client.js';
import { fetchDirectory } from '../../src/acme/directory.js';
import { obtainCertificate, type FlowHooks } from '../../src/acme/flow.js';
import { toAccountKey } from '../../src/acme/account-key.js';
import { HttpTransport } from '../../src/acme/transport.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { AcmeProblemError } from '../../src/errors.js';
import { FakeAcmeServer } from '../support/fake-acme-server.js';

const hooks: FlowHooks = {
  presentChallenge: async () => undefined,
  cleanupChallenge: async () => undefined,
  progress: () => undefined,
  checkpoint: async () => undefined,
};

async function failingOrder(t: import('node:test').TestContext, scripts: Array<Parameters<FakeAcmeServer['script']>[1]>) {
    const ca = await FakeAcmeServer.start();
    const transport = new HttpTransport({ timeoutMs: 10_000 });
    t.after(async () => {
      transport.close();
      await ca.close();
    });
    const k = await generateKeyPair('ec256');
    const client = new AcmeClient({ directory: await fetchDirectory(transport, ca.directoryUrl), transport, accountKey: await toAccountKey(k.privateKey, k.publicKey, 'ES256') });
    await client.newAccount({ termsOfServiceAgreed: true });
    for (const reply of scripts) ca.script('challenge', reply);
    await assert.rejects(
      obtainCertificate(client, { names: ['a.test', 'b.test'], keyType: 'ec256', poll: { initialMs: 20, maxMs: 100, timeoutMs: 10_000 } }, hooks),
      (e: unknown) => e instanceof AcmeProblemError && e.problem?.type === 'urn:ietf:params:acme:error:unauthorized',
    );
    assert.equal(ca.count('finalize'), 0);
    return ca.calls.filter((c) => c.endpoint === 'authorization' && (c.payload as { status?: string } | undefined)?.status === 'deactivated');
}

describe('deactivating the authorizations of a failed order', () => {
  it('both challenges refused: both authorizations, still pending, are deactivated', async (t) => {
    const deactivated = await failingOrder(t, [{ problem: 'unauthorized' }, { problem: 'unauthorized' }]);
    assert.equal(deactivated.length, 2);
    assert.equal(new Set(deactivated.map((c) => c.path)).size, 2);
  });

  it('one refused, one accepted (the CA is validating it): only the pending one is deactivated', async (t) => {
    // The accepted challenge answers slowly, after the sibling's failure: it will settle at the CA by itself.
    const deactivated = await failingOrder(t, [{ problem: 'unauthorized' }, { delayMs: 1000 }]);
    assert.equal(deactivated.length, 1);
  });
});
