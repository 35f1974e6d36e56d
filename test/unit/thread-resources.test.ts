/**
 * AgentThreadResources: what one worker thread's agents share. One transport per trust bundle and
 * timeout, one nonce pool per CA, and each account key parsed once (a bad PEM is refused, typed, and
 * not kept); account keys are capped, the least recently used going first.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentThreadResources, importAccountKey, type SharedAccountKey } from '../../src/agent/thread-resources.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { InvalidInputError } from '../../src/errors.js';
import { caught } from '../support/caught.js';

describe('AgentThreadResources', () => {
  it('one transport per trust bundle and timeout, one nonce pool per newNonce URL', () => {
    const r = new AgentThreadResources();
    try {
      const a = r.transport({ caPem: undefined, timeoutMs: 1000 });
      assert.equal(r.transport({ caPem: undefined, timeoutMs: 1000 }), a);
      assert.notEqual(r.transport({ caPem: undefined, timeoutMs: 2000 }), a);
      const pool = r.nonces('https://ca.test/nonce', a);
      assert.equal(r.nonces('https://ca.test/nonce', a), pool);
      assert.notEqual(r.nonces('https://other.test/nonce', a), pool);
    } finally {
      r.close();
    }
  });

  /** An account as the supervisor hands it to agents: the PEM, its public JWK and thumbprint. */
  async function sharedAccount(type: 'ec256' | 'rsa2048' = 'ec256'): Promise<SharedAccountKey> {
    const keyPem = (await generateKeyPair(type)).privateKeyPem;
    const { jwk, thumbprint } = await importAccountKey(keyPem);
    return { keyPem, jwk, thumbprint };
  }

  it('parses an account key once: the same AccountKey (and KeyObject) for the same PEM, with the JWK and thumbprint given', async () => {
    const r = new AgentThreadResources();
    const account = await sharedAccount();
    const k1 = r.accountKey(account);
    assert.equal(r.accountKey({ ...account }), k1);
    assert.equal(k1.alg, 'ES256');
    assert.equal(k1.jwk, account.jwk);
    assert.equal(k1.thumbprint, account.thumbprint);
    assert.equal(k1.privateKey.asymmetricKeyType, 'ec');
    const rsa = r.accountKey(await sharedAccount('rsa2048'));
    assert.equal(rsa.alg, 'RS256');
    assert.notEqual(rsa, k1);
  });

  it('a PEM that does not parse is refused with a typed error and not kept', async () => {
    const r = new AgentThreadResources();
    const bad = { ...(await sharedAccount()), keyPem: 'not a key' };
    const e1 = await caught(Promise.resolve().then(() => r.accountKey(bad)), InvalidInputError);
    assert.equal(e1.code, 'ERR_INVALID_KEY_TYPE');
    const e2 = await caught(Promise.resolve().then(() => r.accountKey(bad)), InvalidInputError);
    assert.notEqual(e2, e1, 'tried again, not a cached failure');
  });

  it('keeps at most 4 account keys, dropping the least recently used', async () => {
    const r = new AgentThreadResources();
    const accounts = await Promise.all([1, 2, 3, 4, 5].map(() => sharedAccount()));
    const first = r.accountKey(accounts[0]!);
    const second = r.accountKey(accounts[1]!);
    r.accountKey(accounts[2]!);
    r.accountKey(accounts[3]!);
    assert.equal(r.accountKey(accounts[0]!), first); // used again: now the most recent
    r.accountKey(accounts[4]!); // a fifth: the least recently used (accounts[1]) goes
    assert.equal(r.accountKey(accounts[0]!), first);
    assert.notEqual(r.accountKey(accounts[1]!), second);
  });
});
