/**
 * Which challenge a renewal uses: dns-01 for a wildcard, else the one recorded in the stored meta.json,
 * else (nothing recorded by an older version, or a value that is not a challenge type) the default.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renewalChallenge } from '../../src/renewals.js';

describe('renewalChallenge', () => {
  it('a wildcard renews by dns-01 whatever was recorded', () => {
    assert.equal(renewalChallenge(['example.test', '*.example.test'], 'http-01', 'http-01'), 'dns-01');
  });
  it('otherwise the recorded challenge, then the default', () => {
    assert.equal(renewalChallenge(['a.example.test'], 'tls-alpn-01', 'http-01'), 'tls-alpn-01');
    assert.equal(renewalChallenge(['a.example.test'], undefined, 'http-01'), 'http-01');
    assert.equal(renewalChallenge(['a.example.test'], 'tls-sni-01', 'dns-01'), 'dns-01');
  });
});
