/**
 * JWS (RFC 8555 §6.2) and key authorization (§8.1): our signatures verify with jose against the JWK,
 * the protected header has exactly the members the RFC asks for, and the thumbprint matches RFC 7638.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey } from 'node:crypto';
import { flattenedVerify, importJWK } from 'jose';
import { signJws } from '../../src/acme/jws.js';
import { jwkThumbprint, keyAuthorization, toAccountKey } from '../../src/acme/account-key.js';
import { generateKeyPair, jwsAlgorithmFor } from '../../src/crypto/keys.js';
import type { KeyType } from '../../src/crypto/key-type.js';

function decodeHeader(protectedB64: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(protectedB64, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('signJws', () => {
  for (const [type, alg] of [['ec256', 'ES256'], ['ec384', 'ES384'], ['rsa2048', 'RS256']] as Array<[KeyType, string]>) {
    it(`${type}: verifies with jose against the JWK, header {alg, jwk, nonce, url}`, async () => {
      const k = await generateKeyPair(type);
      const key = await toAccountKey(k.privateKey, k.publicKey, jwsAlgorithmFor(k.privateKey));
      assert.equal(key.alg, alg);
      const jws = await signJws({ key, url: 'https://ca.test/new-acct', nonce: 'bm9uY2U', payload: { termsOfServiceAgreed: true } });
      const header = decodeHeader(jws.protected!);
      assert.deepEqual(Object.keys(header).sort(), ['alg', 'jwk', 'nonce', 'url']);
      assert.equal(header.alg, alg);
      assert.equal(header.nonce, 'bm9uY2U');
      assert.equal(header.url, 'https://ca.test/new-acct');
      const verified = await flattenedVerify(jws, await importJWK(header.jwk as Parameters<typeof importJWK>[0], alg));
      assert.deepEqual(JSON.parse(new TextDecoder().decode(verified.payload)), { termsOfServiceAgreed: true });
    });
  }

  it('uses kid instead of jwk once the account is known, and an empty payload for POST-as-GET (§6.3)', async () => {
    const k = await generateKeyPair('ec256');
    const key = await toAccountKey(k.privateKey, k.publicKey, 'ES256');
    const jws = await signJws({ key, url: 'https://ca.test/order/1', nonce: 'abc', kid: 'https://ca.test/acct/7', payload: '' });
    const header = decodeHeader(jws.protected!);
    assert.deepEqual(Object.keys(header).sort(), ['alg', 'kid', 'nonce', 'url']);
    assert.equal(header.kid, 'https://ca.test/acct/7');
    assert.equal(jws.payload, '');
    await flattenedVerify(jws, createPublicKey(k.privateKey));
  });

  it('a signature by another key does not verify', async () => {
    const a = await generateKeyPair('ec256');
    const b = await generateKeyPair('ec256');
    const jws = await signJws({ key: await toAccountKey(a.privateKey, a.publicKey, 'ES256'), url: 'u', nonce: 'n', payload: {} });
    await assert.rejects(flattenedVerify(jws, b.publicKey));
  });
});

describe('thumbprint and key authorization', () => {
  it('matches the RFC 7638 §3.1 example thumbprint', async () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
    };
    assert.equal(await jwkThumbprint(jwk), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('keyAuthorization = token "." base64url(SHA-256 of the canonical JWK)', async () => {
    const k = await generateKeyPair('ec256');
    const key = await toAccountKey(k.privateKey, k.publicKey, 'ES256');
    const { crv, kty, x, y } = key.jwk as { crv: string; kty: string; x: string; y: string };
    const canonical = JSON.stringify({ crv, kty, x, y });
    const expected = createHash('sha256').update(canonical).digest('base64url');
    assert.equal(await keyAuthorization('tok_en-1', key.jwk), `tok_en-1.${expected}`);
  });
});
