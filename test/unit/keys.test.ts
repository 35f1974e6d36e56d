/**
 * Unit tests of src/crypto/keys.ts: generation of every key type, keyTypeOf, jwsAlgorithmFor and
 * loadPrivateKey. No network, no files.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';

import { ErrorCode, InvalidInputError } from '../../src/errors.js';
import { KEY_TYPES, type KeyType } from '../../src/crypto/key-type.js';
import { generateKeyPair, jwsAlgorithmFor, keyTypeOf, loadPrivateKey } from '../../src/crypto/keys.js';

const EXPECTED: Record<KeyType, { type: string; bits?: number; curve?: string; alg: string }> = {
  rsa2048: { type: 'rsa', bits: 2048, alg: 'RS256' },
  rsa3072: { type: 'rsa', bits: 3072, alg: 'RS256' },
  rsa4096: { type: 'rsa', bits: 4096, alg: 'RS256' },
  ec256: { type: 'ec', curve: 'prime256v1', alg: 'ES256' },
  ec384: { type: 'ec', curve: 'secp384r1', alg: 'ES384' },
};

describe('generateKeyPair', () => {
  for (const kt of KEY_TYPES) {
    it(`generates ${kt}`, async () => {
      const want = EXPECTED[kt];
      const { privateKey, publicKey, privateKeyPem } = await generateKeyPair(kt);
      assert.equal(privateKey.type, 'private');
      assert.equal(publicKey.type, 'public');
      assert.equal(privateKey.asymmetricKeyType, want.type);
      const d = privateKey.asymmetricKeyDetails ?? {};
      if (want.bits !== undefined) {
        assert.equal(d.modulusLength, want.bits);
        assert.equal(d.publicExponent, 65537n);
      }
      if (want.curve !== undefined) assert.equal(d.namedCurve, want.curve);
      assert.match(privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
      assert.equal(keyTypeOf(privateKey), kt);
      assert.equal(keyTypeOf(publicKey), kt);
      assert.equal(jwsAlgorithmFor(privateKey), want.alg);
      assert.equal(jwsAlgorithmFor(publicKey), want.alg);
      const loaded = loadPrivateKey(privateKeyPem);
      assert.ok(loaded.equals(privateKey));
    });
  }

  it('rejects an unknown key type', async () => {
    await assert.rejects(generateKeyPair('rsa1024' as KeyType), (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidKeyType);
  });
});

describe('keyTypeOf / jwsAlgorithmFor on unsupported keys', () => {
  it('throws ERR_INVALID_KEY_TYPE for ed25519 and P-521', () => {
    for (const key of [generateKeyPairSync('ed25519').privateKey, generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).privateKey]) {
      assert.throws(() => keyTypeOf(key), { code: ErrorCode.invalidKeyType });
      assert.throws(() => jwsAlgorithmFor(key), { code: ErrorCode.invalidKeyType });
    }
  });

  it('keyTypeOf refuses RSA-1024 but jwsAlgorithmFor maps any RSA key to RS256', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    assert.throws(() => keyTypeOf(privateKey), { code: ErrorCode.invalidKeyType });
    assert.equal(jwsAlgorithmFor(privateKey), 'RS256');
  });
});

describe('loadPrivateKey', () => {
  it('throws ERR_INVALID_KEY_TYPE without echoing the input', () => {
    assert.throws(() => loadPrivateKey('-----BEGIN PRIVATE KEY-----\nsecretgarbage\n-----END PRIVATE KEY-----\n'), (e: unknown) => {
      assert.ok(e instanceof InvalidInputError);
      assert.equal(e.code, ErrorCode.invalidKeyType);
      assert.doesNotMatch(e.message, /secretgarbage/);
      return true;
    });
  });
});
