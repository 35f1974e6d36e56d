/**
 * The newOrder options through the whole Supervisor (main thread → agent thread → CA): a profile from the
 * directory's `meta.profiles`, the requested validity (RFC 8555 §7.4), and, when the CA offers ARI, the
 * renewal order's `replaces` naming the stored certificate (RFC 9773 §5). Against the scripted fake CA
 * over real sockets; bad values are refused before any request.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeAcmeServer } from '../support/fake-acme-server.js';
import { until } from '../support/until.js';
import { Supervisor } from '../../src/supervisor.js';
import type { SupervisorOptions } from '../../src/options.js';
import { ErrorCode, InvalidInputError } from '../../src/errors.js';
import { certificateIdentifier } from '../../src/acme/ari.js';

describe('order options through the Supervisor (fake CA with ARI and profiles)', () => {
  let ca: FakeAcmeServer;
  let storeDir: string;
  let sup: Supervisor;
  const orderUrls = new Map<string, string>();
  const options = (extra: Partial<SupervisorOptions> = {}): SupervisorOptions => ({
    directoryUrl: ca.directoryUrl,
    allowInsecureLoopback: true,
    storeDir,
    keyType: 'ec256',
    http01: { mode: 'embedded' },
    ...extra,
  });
  before(async () => {
    ca = await FakeAcmeServer.start({ ari: true, profiles: { classic: '90 days', shortlived: '6 days' } });
    storeDir = mkdtempSync(join(tmpdir(), 'leec-order-options-'));
    sup = await Supervisor.start(options({ profile: 'classic' }));
    sup.on('state', (e) => {
      if (e.orderUrl) orderUrls.set(e.domain, e.orderUrl);
    });
  });
  after(async () => {
    await sup.shutdown();
    await ca.close();
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('sends the supervisor profile and the asked validity; the leaf has exactly that validity', async () => {
    const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
    const notAfter = new Date(notBefore.getTime() + 3 * 86_400_000);
    const r = await sup.obtainCertificate('validity.example.test', { notBefore, notAfter });
    const asked = ca.orderRequest(orderUrls.get('validity.example.test')!);
    assert.equal(asked?.profile, 'classic');
    assert.equal(asked?.notBefore, notBefore.toISOString());
    assert.equal(asked?.notAfter, notAfter.toISOString());
    assert.equal(asked?.replaces, undefined, 'nothing stored yet: nothing replaced');
    const leaf = new X509Certificate(readFileSync(r.paths.cert));
    assert.equal(new Date(leaf.validFrom).getTime(), notBefore.getTime());
    assert.equal(new Date(leaf.validTo).getTime(), notAfter.getTime());
  });

  it('a per-order profile overrides the supervisor’s', async () => {
    await sup.obtainCertificate('short.example.test', { profile: 'shortlived' });
    assert.equal(ca.orderRequest(orderUrls.get('short.example.test')!)?.profile, 'shortlived');
  });

  it('a renewal names the stored certificate it replaces (RFC 9773 §5), as the CA computes its certID', async () => {
    const first = await sup.obtainCertificate('renew.example.test');
    const firstOrder = orderUrls.get('renew.example.test')!;
    const certId = certificateIdentifier(readFileSync(first.paths.cert, 'utf8'));
    assert.equal(certId, ca.certIdOf(firstOrder), 'our certID is the CA’s');
    await sup.obtainCertificate('renew.example.test');
    const secondOrder = orderUrls.get('renew.example.test')!;
    assert.notEqual(secondOrder, firstOrder);
    assert.equal(ca.orderRequest(secondOrder)?.replaces, certId);
    assert.equal(ca.replacedBy(certId), secondOrder);
  });

  it('renewals are scheduled in the CA\'s ARI window (RFC 9773 §4.2), also when rebuilt after a restart; a window past the lifetime rule is not used', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leec-order-options-ari-'));
    try {
      const first = await Supervisor.start(options({ storeDir: dir }));
      const r = await first.obtainCertificate('ari.example.test');
      // This CA's default window starts at two thirds of the lifetime, where the lifetime rule is: not used.
      const initial = await until(() => first.renewals().find((x) => x.at !== undefined), 'the first schedule');
      assert.equal(initial.reason, 'lifetime');
      await first.shutdown();

      const nb = Date.parse(r.notBefore);
      const life = Date.parse(r.notAfter) - nb;
      const start = new Date(nb + life / 2);
      const end = new Date(nb + life * 0.6);
      ca.setRenewalInfo(certificateIdentifier(readFileSync(r.paths.cert, 'utf8')), { start, end, retryAfter: '3600' });
      const second = await Supervisor.start(options({ storeDir: dir }));
      try {
        // Rebuilt by the lifetime rule at once, then moved into the window once the CA answered.
        const rebuilt = await until(() => second.renewals().find((x) => x.reason === 'ari'), 'the ARI window');
        assert.equal(rebuilt.domain, 'ari.example.test');
        assert.ok(rebuilt.at! >= start.getTime() && rebuilt.at! < end.getTime(), `at ${new Date(rebuilt.at!).toISOString()} in [${start.toISOString()}, ${end.toISOString()})`);
      } finally {
        await second.shutdown();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unknown profile or inverted validity is refused before any request', async () => {
    const before = ca.calls.length;
    await assert.rejects(sup.obtainCertificate('x.example.test', { profile: 'nope' }), (e: unknown) => {
      return e instanceof InvalidInputError && e.code === ErrorCode.invalidOption && e.step === 'input' && (e.data.available as string[]).includes('classic');
    });
    await assert.rejects(sup.obtainCertificate('x.example.test', { notBefore: '2030-01-02T00:00:00Z', notAfter: '2030-01-01T00:00:00Z' }), {
      code: ErrorCode.invalidOption,
    });
    // A certificate that would be expired when issued: refused, not issued and then silently unscheduled.
    for (const notAfter of [new Date(Date.now() - 60_000), '2020-01-01T00:00:00Z']) {
      await assert.rejects(sup.obtainCertificate('x.example.test', { notAfter }), (e: unknown) => {
        return e instanceof InvalidInputError && e.code === ErrorCode.invalidOption && e.step === 'input' && e.data.option === 'notAfter';
      });
    }
    assert.equal(ca.calls.length, before);
  });

  it('Supervisor.start refuses a profile the directory does not list, before the account is made', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leec-order-options-2-'));
    const accountsBefore = ca.count('newAccount');
    try {
      await assert.rejects(Supervisor.start(options({ storeDir: dir, profile: 'tlsserver' })), { code: ErrorCode.invalidOption });
      assert.equal(ca.count('newAccount'), accountsBefore);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
