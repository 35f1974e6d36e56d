/**
 * Unit tests of src/names.ts: normalisation, validation and the name list rules, table-driven.
 * Each bad case asserts the exact error code and `data.name`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ErrorCode, InvalidInputError } from '../../src/errors.js';
import { type ChallengeType, normalizeName, normalizeNames, validateName } from '../../src/names.js';
import { toIdentifier } from '../../src/acme/flow.js';

const http = { challenge: 'http-01' } as const;
const dns = { challenge: 'dns-01' } as const;

describe('normalizeName', () => {
  const cases: Array<[string, string]> = [
    ['WWW.Example.TEST', 'www.example.test'],
    ['example.test.', 'example.test'],
    ['  example.test  ', 'example.test'],
    ['bücher.example.test', 'xn--bcher-kva.example.test'],
    ['Bücher.Example.TEST.', 'xn--bcher-kva.example.test'],
    ['*.Bücher.example.test', '*.xn--bcher-kva.example.test'],
    ['*.EXAMPLE.test', '*.example.test'],
    ['127.0.0.1', '127.0.0.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['[::1]', '::1'],
  ];
  for (const [input, want] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => assert.equal(normalizeName(input), want));
  }
  it('"example.test.." (two trailing dots: an empty label) is refused', () => {
    assert.throws(() => normalizeName('example.test..'), (e: unknown) => e instanceof InvalidInputError && e.code === 'ERR_INVALID_DOMAIN');
  });
});

describe('validateName accepts', () => {
  const ok: Array<[string, ChallengeType]> = [
    ['example.test', 'http-01'],
    ['a-b.example.test', 'tls-alpn-01'],
    ['xn--bcher-kva.example.test', 'http-01'],
    ['*.example.test', 'dns-01'],
    ['example.test.', 'http-01'],
    ['127.0.0.1', 'http-01'],
    ['2001:db8::1', 'tls-alpn-01'],
    [`${'a'.repeat(63)}.test`, 'http-01'],
    [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`, 'http-01'], // 253 characters
  ];
  for (const [name, challenge] of ok) {
    it(`${name} with ${challenge}`, () => validateName(name, { challenge }));
  }
});

describe('normalizeNames', () => {
  it('puts the primary first, removes duplicates and keeps order', () => {
    assert.deepEqual(normalizeNames('Example.TEST', ['www.example.test', 'example.test.', 'api.example.test', 'WWW.example.test'], http), [
      'example.test',
      'www.example.test',
      'api.example.test',
    ]);
  });
  it('accepts undefined sans', () => assert.deepEqual(normalizeNames('example.test', undefined, http), ['example.test']));
  it('accepts exactly 100 names', () => {
    const sans = Array.from({ length: 99 }, (_, i) => `n${i}.example.test`);
    assert.equal(normalizeNames('example.test', sans, http).length, 100);
  });
});

describe('rejects', () => {
  const long254 = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`;
  assert.equal(long254.length, 254);
  const hundredAndOne = Array.from({ length: 100 }, (_, i) => `n${i}.example.test`);
  const cases: Array<{ what: string; primary: unknown; sans?: unknown[]; challenge?: ChallengeType; code: string; name: string }> = [
    { what: 'empty', primary: '', code: ErrorCode.invalidDomain, name: '' },
    { what: 'blank', primary: '   ', code: ErrorCode.invalidDomain, name: '' },
    { what: 'lone dot', primary: '.', code: ErrorCode.invalidDomain, name: '' },
    { what: '254 characters', primary: long254, code: ErrorCode.invalidDomain, name: long254 },
    { what: '64-character label', primary: `${'a'.repeat(64)}.test`, code: ErrorCode.invalidDomain, name: `${'a'.repeat(64)}.test` },
    { what: 'underscore', primary: 'a_b.example.test', code: ErrorCode.invalidDomain, name: 'a_b.example.test' },
    { what: 'space', primary: 'a b.example.test', code: ErrorCode.invalidDomain, name: 'a b.example.test' },
    { what: 'leading hyphen', primary: '-a.example.test', code: ErrorCode.invalidDomain, name: '-a.example.test' },
    { what: 'trailing hyphen', primary: 'a-.example.test', code: ErrorCode.invalidDomain, name: 'a-.example.test' },
    { what: 'empty label', primary: 'a..example.test', code: ErrorCode.invalidDomain, name: 'a..example.test' },
    { what: 'single label', primary: 'localhost', code: ErrorCode.invalidDomain, name: 'localhost' },
    { what: 'numeric TLD', primary: 'example.123', code: ErrorCode.invalidDomain, name: 'example.123' },
    { what: 'bad punycode', primary: 'xn--zz.example.test', code: ErrorCode.invalidDomain, name: 'xn--zz.example.test' },
    { what: 'wildcard with http-01', primary: '*.example.test', code: ErrorCode.wildcardNeedsDns01, name: '*.example.test' },
    { what: 'wildcard with tls-alpn-01', primary: '*.example.test', challenge: 'tls-alpn-01', code: ErrorCode.wildcardNeedsDns01, name: '*.example.test' },
    { what: 'inner wildcard', primary: 'a.*.example.test', challenge: 'dns-01', code: ErrorCode.invalidDomain, name: 'a.*.example.test' },
    { what: 'partial wildcard', primary: 'a*.example.test', challenge: 'dns-01', code: ErrorCode.invalidDomain, name: 'a*.example.test' },
    { what: 'wildcard over one label', primary: '*.test', challenge: 'dns-01', code: ErrorCode.invalidDomain, name: '*.test' },
    { what: 'IPv4 with dns-01', primary: '127.0.0.1', challenge: 'dns-01', code: ErrorCode.invalidDomain, name: '127.0.0.1' },
    { what: 'IPv6 with dns-01', primary: '::1', challenge: 'dns-01', code: ErrorCode.invalidDomain, name: '::1' },
    { what: 'bad SAN', primary: 'example.test', sans: ['ok.example.test', 'bad_.example.test'], code: ErrorCode.invalidDomain, name: 'bad_.example.test' },
    { what: '101 names', primary: 'example.test', sans: hundredAndOne, code: ErrorCode.invalidDomain, name: 'example.test' },
    { what: 'non-string primary', primary: 42, code: ErrorCode.invalidDomain, name: '42' },
    { what: 'non-string SAN', primary: 'example.test', sans: [null], code: ErrorCode.invalidDomain, name: 'null' },
  ];
  for (const c of cases) {
    it(c.what, () => {
      assert.throws(
        () => normalizeNames(c.primary as string, c.sans as string[] | undefined, { challenge: c.challenge ?? 'http-01' }),
        (e: unknown) => {
          assert.ok(e instanceof InvalidInputError, String(e));
          assert.equal(e.code, c.code);
          assert.equal(e.data['name'], c.name);
          assert.equal(typeof e.data['reason'], 'string');
          assert.ok(e.message.includes(c.name), e.message);
          assert.ok(e.message.includes(e.data['reason'] as string), e.message);
          if (c.what === '101 names') assert.equal(e.data['reason'], 'too many names');
          return true;
        },
      );
    });
  }

  it('validateName keeps the trailing-dot name in data.name', () => {
    assert.throws(() => validateName('a_b.test.', dns), { code: ErrorCode.invalidDomain, data: { name: 'a_b.test.', reason: 'label "a_b" contains an underscore (only letters, digits and hyphens are allowed)' } });
  });

  it('an unknown challenge is an invalid option', () => {
    assert.throws(() => validateName('example.test', { challenge: 'http-02' as ChallengeType }), { code: ErrorCode.invalidOption });
  });
});

describe('toIdentifier (RFC 8738 ip, else dns)', () => {
  const cases: Array<[string, 'ip' | 'dns']> = [
    ['192.0.2.7', 'ip'],
    ['2001:db8::1', 'ip'],
    ['::1', 'ip'],
    ['example.test', 'dns'],
    ['*.example.test', 'dns'],
    ['1.2.3.4.example.test', 'dns'],
    ['1.2.3', 'dns'],
    ['999.1.1.1', 'dns'],
    ['0x7f.example', 'dns'],
  ];
  for (const [name, type] of cases) {
    it(`${name} is ${type}`, () => assert.deepEqual(toIdentifier(name), { type, value: name }));
  }
});
