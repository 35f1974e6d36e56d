/**
 * ACME Renewal Information (RFC 9773) pieces that need no CA: the certID (§4.1) against the RFC's own
 * example certificate and against openssl-made certificates, the RenewalInfo checks (§4.2), RFC 3339
 * timestamps, and the newOrder option checks (RFC 8555 §7.4, RFC 9773 §5, draft-aaron-acme-profiles).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateIdentifier, isCertificateIdentifier, parseRenewalInfo, renewalInfoUrl } from '../../src/acme/ari.js';
import { newOrderFields } from '../../src/acme/order-options.js';
import { isRfc3339 } from '../../src/acme/rfc3339.js';
import type { Directory } from '../../src/acme/types.js';
import { InvalidInputError, LeecError, ProtocolError } from '../../src/errors.js';

/** RFC 9773 Appendix A: the example certificate (AKI 69:88:5B:..., serial 0x87654321). */
const RFC_9773_EXAMPLE_PEM = `-----BEGIN CERTIFICATE-----
MIIBQzCB66ADAgECAgUAh2VDITAKBggqhkjOPQQDAjAVMRMwEQYDVQQDEwpFeGFt
cGxlIENBMCIYDzAwMDEwMTAxMDAwMDAwWhgPMDAwMTAxMDEwMDAwMDBaMBYxFDAS
BgNVBAMTC2V4YW1wbGUuY29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEeBZu
7cbpAYNXZLbbh8rNIzuOoqOOtmxA1v7cRm//AwyMwWxyHz4zfwmBhcSrf47NUAFf
qzLQ2PPQxdTXREYEnKMjMCEwHwYDVR0jBBgwFoAUaYhba4dGQEHhs3uEe6CuLN4B
yNQwCgYIKoZIzj0EAwIDRwAwRAIge09+S5TZAlw5tgtiVvuERV6cT4mfutXIlwTb
+FYN/8oCIClDsqBklhB9KAelFiYt9+6FDj3z4KGVelYM5MdsO3pK
-----END CERTIFICATE-----
`;
/** RFC 9773 §4.1: the certID of that certificate. */
const RFC_9773_EXAMPLE_CERT_ID = 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE';

let dir: string;

/** A self-signed P-256 certificate made by openssl with the given serial and extra `-addext`s. */
function opensslCert(name: string, serial: string, addext: string[] = [], config?: string): string {
  const out = join(dir, `${name}.pem`);
  execFileSync('openssl', [
    'req', '-x509', ...(config ? ['-config', config] : []), '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', '/dev/null', '-subj', '/CN=ari.test', '-days', '2', '-set_serial', serial,
    ...addext.flatMap((e) => ['-addext', e]), '-out', out,
  ], { stdio: 'ignore' });
  return readFileSync(out, 'utf8');
}

/** openssl's text dump of a certificate. */
function opensslText(pem: string): string {
  return execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem, encoding: 'utf8' });
}

/** The AKI keyIdentifier octets as openssl prints them (an independent reading of the extension). */
function opensslAki(pem: string): Buffer {
  const text = execFileSync('openssl', ['x509', '-noout', '-ext', 'authorityKeyIdentifier'], { input: pem, encoding: 'utf8' });
  const hex = /Authority Key Identifier:\s*(?:keyid:)?([0-9A-Fa-f:]+)/.exec(text)?.[1];
  assert.ok(hex, `openssl printed no AKI: ${text}`);
  return Buffer.from(hex.replace(/:/g, ''), 'hex');
}

function assertInputError(fn: () => unknown, option: string | undefined, re: RegExp): InvalidInputError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof InvalidInputError, `expected InvalidInputError, got ${String(e)}`);
    assert.equal(e.code, 'ERR_INVALID_OPTION');
    assert.equal(e.step, 'input');
    if (option !== undefined) assert.equal(e.data.option, option);
    assert.match(e.message, re);
    return e;
  }
  assert.fail('expected an InvalidInputError');
}

describe('RFC 9773 §4.1 certificateIdentifier', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'leec-ari-unit-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("the RFC's example certificate gives the RFC's certID, from PEM and from DER", () => {
    assert.equal(certificateIdentifier(RFC_9773_EXAMPLE_PEM), RFC_9773_EXAMPLE_CERT_ID);
    assert.equal(certificateIdentifier(new X509Certificate(RFC_9773_EXAMPLE_PEM).raw), RFC_9773_EXAMPLE_CERT_ID);
    // The two halves are exactly the AKI keyIdentifier and the serial's DER content octets 00 87 65 43 21.
    const [aki, serial] = RFC_9773_EXAMPLE_CERT_ID.split('.') as [string, string];
    assert.equal(Buffer.from(aki, 'base64url').toString('hex'), '69885b6b87464041e1b37b847ba0ae2cde01c8d4');
    assert.equal(Buffer.from(serial, 'base64url').toString('hex'), '0087654321');
  });

  it('a chain: the first certificate is identified', () => {
    const other = opensslCert('other', '0x01');
    assert.equal(certificateIdentifier(RFC_9773_EXAMPLE_PEM + other), RFC_9773_EXAMPLE_CERT_ID);
  });

  it('a serial with the high bit set keeps its leading 00; one without gets none', () => {
    const high = opensslCert('high', '0x8000000000000001');
    const idHigh = certificateIdentifier(high);
    assert.equal(idHigh, `${opensslAki(high).toString('base64url')}.${Buffer.from('008000000000000001', 'hex').toString('base64url')}`);
    assert.equal(idHigh.split('.')[1], 'AIAAAAAAAAAB');

    const low = opensslCert('low', '0x7f00000000000001');
    assert.equal(certificateIdentifier(low), `${opensslAki(low).toString('base64url')}.${Buffer.from('7f00000000000001', 'hex').toString('base64url')}`);
    assert.equal(certificateIdentifier(low).split('.')[1], 'fwAAAAAAAAE');
  });

  it('no padding and only base64url characters', () => {
    const id = certificateIdentifier(opensslCert('pad', '0xfbff'));
    assert.doesNotMatch(id, /[=+/]/);
    assert.equal(id.split('.')[1], 'APv_');
    assert.ok(isCertificateIdentifier(id));
  });

  it('a certificate with extensions but no AKI, or with no extensions at all: typed error, no certID', () => {
    const noAki = opensslCert('no-aki', '0x05', ['authorityKeyIdentifier=none', 'subjectKeyIdentifier=none']);
    assert.equal(new X509Certificate(noAki).ca, true); // it does have extensions: basicConstraints
    assert.doesNotMatch(opensslText(noAki), /Key Identifier/);
    const e1 = assertInputError(() => certificateIdentifier(noAki), undefined, /no Authority Key Identifier/);
    assert.equal(e1.data.reason, 'noAuthorityKeyIdentifier');

    // A config without x509 extensions sections makes a version 1 certificate.
    const cfg = join(dir, 'v1.cnf');
    writeFileSync(cfg, '[req]\ndistinguished_name = dn\n[dn]\n');
    const v1 = opensslCert('v1', '0x06', [], cfg);
    assert.match(opensslText(v1), /Version: 1 \(0x0\)/);
    assert.doesNotMatch(opensslText(v1), /X509v3/);
    const e2 = assertInputError(() => certificateIdentifier(v1), undefined, /no Authority Key Identifier/);
    assert.equal(e2.data.reason, 'noAuthorityKeyIdentifier');
  });

  it('what is not a certificate: typed error', () => {
    assertInputError(() => certificateIdentifier('hello'), undefined, /not an X\.509 certificate/);
    assertInputError(() => certificateIdentifier(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01])), undefined, /not an X\.509 certificate/);
  });

  it('isCertificateIdentifier: two unpadded base64url parts', () => {
    assert.equal(isCertificateIdentifier(RFC_9773_EXAMPLE_CERT_ID), true);
    for (const bad of ['aYhba4dGQEHhs3uEe6CuLN4ByNQ', 'aYhba4dGQEHhs3uEe6CuLN4ByNQ=.AIdlQyE=', 'a/b.c', '.AIdlQyE', 'a.b.c', '', 42]) {
      assert.equal(isCertificateIdentifier(bad), false, String(bad));
    }
  });

  it('renewalInfoUrl appends "/" and the certID once', () => {
    assert.equal(renewalInfoUrl('https://ca.test/renewal-info', 'a.b'), 'https://ca.test/renewal-info/a.b');
    assert.equal(renewalInfoUrl('https://ca.test/renewal-info/', 'a.b'), 'https://ca.test/renewal-info/a.b');
  });
});

describe('RFC 9773 §4.2 parseRenewalInfo', () => {
  const parse = (body: unknown, retryAfterMs?: number): ReturnType<typeof parseRenewalInfo> =>
    parseRenewalInfo(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), retryAfterMs, 'a.b');

  it('the window, the explanation URL and the Retry-After', () => {
    const info = parse(
      { suggestedWindow: { start: '2025-01-02T04:00:00Z', end: '2025-01-03T04:00:00.250+01:00' }, explanationURL: 'https://ca.test/why' },
      21_600_000,
    );
    assert.equal(info.suggestedWindow.start.toISOString(), '2025-01-02T04:00:00.000Z');
    assert.equal(info.suggestedWindow.end.toISOString(), '2025-01-03T03:00:00.250Z');
    assert.equal(info.explanationUrl, 'https://ca.test/why');
    assert.equal(info.retryAfterMs, 21_600_000);
    const bare = parse({ suggestedWindow: { start: '2025-01-02t04:00:00z', end: '2025-01-02T04:00:01Z' }, extra: 1 });
    assert.equal(bare.suggestedWindow.start.toISOString(), '2025-01-02T04:00:00.000Z');
    assert.equal('explanationUrl' in bare, false);
    assert.equal(bare.retryAfterMs, undefined);
  });

  const cases: Array<[string, unknown, string]> = [
    ['end equals start', { suggestedWindow: { start: '2025-01-02T04:00:00Z', end: '2025-01-02T04:00:00Z' } }, 'emptyWindow'],
    ['end before start', { suggestedWindow: { start: '2025-01-03T04:00:00Z', end: '2025-01-02T04:00:00Z' } }, 'emptyWindow'],
    ['start not RFC 3339', { suggestedWindow: { start: 'Thu, 02 Jan 2025 04:00:00 GMT', end: '2025-01-03T04:00:00Z' } }, 'badTimestamp'],
    ['end a number', { suggestedWindow: { start: '2025-01-02T04:00:00Z', end: 1735876800 } }, 'badTimestamp'],
    ['an impossible date', { suggestedWindow: { start: '2025-02-30T04:00:00Z', end: '2025-03-03T04:00:00Z' } }, 'badTimestamp'],
    ['no suggestedWindow', { window: {} }, 'noWindow'],
    ['explanationURL not a string', { suggestedWindow: { start: '2025-01-02T04:00:00Z', end: '2025-01-03T04:00:00Z' }, explanationURL: 7 }, 'badExplanationUrl'],
    ['not JSON', '{not json', 'notJson'],
    ['a JSON array', '[]', 'noWindow'],
    ['JSON null', 'null', 'notObject'],
  ];
  for (const [name, body, reason] of cases) {
    it(`${name}: ProtocolError (reason ${reason})`, () => {
      try {
        parse(body);
      } catch (e) {
        assert.ok(e instanceof ProtocolError);
        assert.equal(e.code, 'ERR_ACME_PROTOCOL');
        assert.equal(e.step, 'renewalInfo');
        assert.equal(e.data.reason, reason);
        assert.equal(e.data.certId, 'a.b');
        return;
      }
      assert.fail('expected a ProtocolError');
    });
  }
});

describe('RFC 3339 timestamps', () => {
  it('accepts date-times with Z or an offset, lower-case t/z, fractions', () => {
    for (const v of ['2025-01-02T04:00:00Z', '2025-01-02T04:00:00.123456Z', '2025-01-02t04:00:00z', '2024-02-29T23:59:59-08:00']) {
      assert.equal(isRfc3339(v), true, v);
    }
  });
  it('refuses dates without time or zone, impossible dates, other formats', () => {
    for (const v of ['2025-01-02', '2025-01-02T04:00:00', '2025-02-29T00:00:00Z', '2025-13-01T00:00:00Z', '2025-01-02T24:00:00Z', '2025-01-02 04:00:00Z', 'Thu, 02 Jan 2025 04:00:00 GMT', 1, undefined]) {
      assert.equal(isRfc3339(v), false, String(v));
    }
  });
});

describe('newOrder options (RFC 8555 §7.4, RFC 9773 §5, draft-aaron-acme-profiles)', () => {
  const dirNoProfiles: Directory = { newNonce: 'https://ca.test/n', newAccount: 'https://ca.test/a', newOrder: 'https://ca.test/o' };
  const dirProfiles: Directory = { ...dirNoProfiles, meta: { profiles: { classic: 'The usual', shortlived: 'Six days' } } };

  it('no options: no fields', () => {
    assert.deepEqual(newOrderFields({}, dirNoProfiles), {});
    assert.deepEqual(newOrderFields({ notBefore: undefined, profile: undefined }, dirNoProfiles), {});
  });

  it('Dates become RFC 3339 UTC, strings are sent verbatim, replaces and a listed profile pass', () => {
    const fields = newOrderFields(
      { notBefore: new Date('2030-01-01T00:00:00Z'), notAfter: '2030-01-08T02:00:00+02:00', replaces: RFC_9773_EXAMPLE_CERT_ID, profile: 'shortlived' },
      dirProfiles,
    );
    assert.deepEqual(fields, { notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2030-01-08T02:00:00+02:00', replaces: RFC_9773_EXAMPLE_CERT_ID, profile: 'shortlived' });
  });

  it('notBefore not before notAfter: typed error', () => {
    assertInputError(() => newOrderFields({ notBefore: '2030-01-02T00:00:00Z', notAfter: '2030-01-02T00:00:00Z' }, dirNoProfiles), 'notAfter', /must be before/);
    assertInputError(() => newOrderFields({ notBefore: '2030-01-02T01:00:00+01:00', notAfter: new Date('2030-01-02T00:00:00Z') }, dirNoProfiles), 'notAfter', /must be before/);
    assertInputError(() => newOrderFields({ notBefore: new Date('2030-01-03'), notAfter: new Date('2030-01-02') }, dirNoProfiles), 'notAfter', /must be before/);
  });

  it('a timestamp that is not RFC 3339, or an invalid Date: typed error', () => {
    assertInputError(() => newOrderFields({ notBefore: '2030-01-02' }, dirNoProfiles), 'notBefore', /RFC 3339/);
    assertInputError(() => newOrderFields({ notAfter: new Date('nope') }, dirNoProfiles), 'notAfter', /invalid Date/);
  });

  it('replaces that is not a certID: typed error', () => {
    assertInputError(() => newOrderFields({ replaces: 'not a cert id' }, dirNoProfiles), 'replaces', /ARI certID/);
    assertInputError(() => newOrderFields({ replaces: RFC_9773_EXAMPLE_PEM }, dirNoProfiles), 'replaces', /ARI certID/);
  });

  it('a profile the directory does not list, or any profile when it lists none: typed error naming the offered ones', () => {
    const e = assertInputError(() => newOrderFields({ profile: 'tlsserver' }, dirProfiles), 'profile', /unknown certificate profile "tlsserver": the directory lists classic, shortlived/);
    assert.deepEqual(e.data, { option: 'profile', profile: 'tlsserver', available: ['classic', 'shortlived'] });
    assertInputError(() => newOrderFields({ profile: 'classic' }, dirNoProfiles), 'profile', /the directory lists no profiles/);
    assertInputError(() => newOrderFields({ profile: 'toString' }, dirProfiles), 'profile', /unknown certificate profile/);
  });

  it('errors are LeecErrors that survive serialization', () => {
    const e = assertInputError(() => newOrderFields({ profile: 'x' }, dirProfiles), 'profile', /unknown/);
    assert.ok(e instanceof LeecError);
    assert.equal(e.toJSON().code, 'ERR_INVALID_OPTION');
  });
});
