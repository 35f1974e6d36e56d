/**
 * AgentThreadResources: what one worker thread's agents share. One transport per trust bundle and
 * timeout, one nonce pool per CA, and each account key imported once (a bad PEM is refused, typed, and
 * not kept); account keys are capped, the least recently used going first.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentThreadResources, importAccountKey } from '../../src/agent/thread-resources.js';
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

  it('imports an account key once: the same AccountKey (and KeyObject) for the same PEM', async () => {
    const r = new AgentThreadResources();
    const pem = (await generateKeyPair('ec256')).privateKeyPem;
    const [k1, k2] = await Promise.all([r.accountKey(pem), r.accountKey(pem)]);
    assert.equal(k1, k2);
    assert.equal(k1.alg, 'ES256');
    assert.deepEqual(k1.jwk, (await importAccountKey(pem)).jwk);
    const rsa = await r.accountKey((await generateKeyPair('rsa2048')).privateKeyPem);
    assert.equal(rsa.alg, 'RS256');
    assert.notEqual(rsa, k1);
  });

  it('a PEM that does not import is refused with a typed error and not kept', async () => {
    const r = new AgentThreadResources();
    const e1 = await caught(r.accountKey('not a key'), InvalidInputError);
    assert.equal(e1.code, 'ERR_INVALID_KEY_TYPE');
    const e2 = await caught(r.accountKey('not a key'), InvalidInputError);
    assert.notEqual(e2, e1, 'tried again, not a cached failure');
  });

  it('keeps at most 4 account keys, dropping the least recently used', async () => {
    const r = new AgentThreadResources();
    const pems = await Promise.all([1, 2, 3, 4, 5].map(async () => (await generateKeyPair('ec256')).privateKeyPem));
    const first = await r.accountKey(pems[0]!);
    const second = await r.accountKey(pems[1]!);
    await r.accountKey(pems[2]!);
    await r.accountKey(pems[3]!);
    assert.equal(await r.accountKey(pems[0]!), first); // used again: now the most recent
    await r.accountKey(pems[4]!); // a fifth: the least recently used (pems[1]) goes
    assert.equal(await r.accountKey(pems[0]!), first);
    assert.notEqual(await r.accountKey(pems[1]!), second);
  });
});
