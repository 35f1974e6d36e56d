/**
 * Automatic renewal through the whole Supervisor, against Pebble, on the real clock: a short-lived first
 * certificate (Pebble honours the newOrder `notAfter`, RFC 8555 §7.4) is renewed by the scheduler at half
 * its lifetime; a live `https` server with the SNI callback hands the new certificate to new handshakes
 * while an open connection keeps the old one. After a restart the schedule is rebuilt from the store and
 * stored certificates are served before any request; `resetState` forgets them; the rate-limit gate queues
 * a job over its limit and says when it will start.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { startHarness, type Harness } from '../support/pebble-harness.js';
import { until } from '../support/until.js';
import { lifetimeRenewalPoint, LIFETIME_JITTER_DIVISOR } from '../../src/lifecycle/renewal-policy.js';
import type { Supervisor } from '../../src/supervisor.js';

const DOMAIN = 'renew.example.test';
const LIFETIME_MS = 20_000;

function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber;
}


/** A TLS connection to the live server, kept open: its peer certificate's serial, and a way to use it again. */
async function openConnection(port: number, rootPem: string): Promise<{ serial: string; socket: tls.TLSSocket; get(): Promise<string> }> {
  const socket = tls.connect({ host: '127.0.0.1', port, servername: DOMAIN, ca: rootPem });
  await once(socket, 'secureConnect');
  const get = async (): Promise<string> => {
    socket.write(`GET / HTTP/1.1\r\nHost: ${DOMAIN}\r\nConnection: keep-alive\r\n\r\n`);
    return new Promise<string>((resolve, reject) => {
      socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1')));
      socket.once('end', () => reject(new Error('the server closed the connection')));
    });
  };
  return { serial: socket.getPeerX509Certificate()!.serialNumber, socket, get };
}

describe('automatic renewal through the Supervisor, against Pebble', { timeout: 120_000 }, () => {
  let h: Harness;
  let storeDir: string;
  before(async () => {
    h = await startHarness();
    storeDir = join(h.storeDir, 'renewals');
  });
  after(async () => h.close());

  it('renews a short-lived certificate at half its lifetime; new handshakes get it, an open connection keeps the old one', async () => {
    const sup = await h.supervisor({ storeDir });
    const events: string[] = [];
    for (const type of ['renewal:scheduled', 'renewal:started', 'renewal:succeeded', 'renewal:failed', 'renewal:halted'] as const) {
      sup.on(type, (e: { domain: string; reason?: string }) => events.push(`${type}${e.reason ? `(${e.reason})` : ''}`));
    }
    const site = https.createServer({ SNICallback: sup.certificates.sniCallback }, (_req, res) => res.end('hello\n'));
    site.keepAliveTimeout = 60_000; // the open connection idles while the renewal runs
    site.listen(0, '127.0.0.1');
    await once(site, 'listening');
    const port = (site.address() as AddressInfo).port;
    try {
      const first = await sup.obtainCertificate(DOMAIN, { notAfter: new Date(Date.now() + LIFETIME_MS) });
      const nb = Date.parse(first.notBefore);
      const na = Date.parse(first.notAfter);
      assert.ok(na - nb <= LIFETIME_MS + 1000, `a short first certificate: ${first.notBefore} .. ${first.notAfter}`);

      // Half the lifetime (10 days or less), with jitter of 2% of it, all before that moment.
      const planned = await until(() => sup.renewals().find((r) => r.domain === DOMAIN && r.at !== undefined), 'the first schedule');
      const point = lifetimeRenewalPoint(nb, na);
      assert.equal(point, nb + (na - nb) / 2);
      assert.ok(planned.at! >= point - Math.floor((na - nb) / LIFETIME_JITTER_DIVISOR) && planned.at! < point, `renewal at ${planned.at}, point ${point}`);
      assert.equal(planned.reason, 'lifetime');

      const open = await openConnection(port, h.rootPem);
      assert.equal(open.serial, serialOf(first.fullchainPem));
      assert.match(await open.get(), /^HTTP\/1\.1 200/);

      const renewed = await new Promise<{ domain: string; attempt: number; notAfter: number }>((resolve) => sup.once('renewal:succeeded', resolve));
      const startedAt = Date.now();
      assert.equal(renewed.domain, DOMAIN);
      assert.equal(renewed.attempt, 1);
      assert.ok(startedAt >= planned.at!, 'not renewed before its time');

      const stored = await sup.store.loadCertificate(DOMAIN);
      assert.ok(stored);
      const second = serialOf(stored.certPem);
      assert.notEqual(second, open.serial, 'a new certificate was stored');
      assert.equal(Date.parse(stored.notAfter), renewed.notAfter);
      assert.equal(stored.meta.challenge, 'http-01', 'renewed with the challenge it was obtained with');
      assert.ok(renewed.notAfter - Date.now() > 365 * 86_400_000, "the renewal asked for the CA's default validity");

      // New handshakes: the new certificate. The open connection, whose handshake used the old one: still served.
      const fresh = await openConnection(port, h.rootPem);
      assert.equal(fresh.serial, second);
      fresh.socket.destroy();
      assert.match(await open.get(), /^HTTP\/1\.1 200/);
      open.socket.destroy();

      // The new certificate is scheduled in turn, by its own lifetime (a third left: it is over 10 days).
      const next = await until(() => sup.renewals().find((r) => r.domain === DOMAIN && r.at !== undefined && r.at > startedAt + 86_400_000), 'the next schedule');
      const nextPoint = lifetimeRenewalPoint(Date.parse(stored.notBefore), Date.parse(stored.notAfter));
      assert.ok(next.at! < nextPoint && next.at! >= nextPoint - Math.floor((Date.parse(stored.notAfter) - Date.parse(stored.notBefore)) / LIFETIME_JITTER_DIVISOR));
      assert.deepEqual(events, ['renewal:scheduled(lifetime)', 'renewal:started', 'renewal:succeeded', 'renewal:scheduled(lifetime)']);
    } finally {
      site.close();
      await sup.shutdown();
    }
  });

  it('after a restart: the stored certificate is served at once and its renewal rebuilt from the store', async () => {
    const sup = await h.supervisor({ storeDir });
    try {
      const stored = await sup.store.loadCertificate(DOMAIN);
      assert.ok(stored);
      const [entry] = sup.renewals();
      assert.equal(entry?.domain, DOMAIN);
      const point = lifetimeRenewalPoint(Date.parse(stored.notBefore), Date.parse(stored.notAfter));
      assert.ok(entry.at! < point && entry.at! > Date.now(), `rebuilt for ${entry.at}, point ${point}`);
      // The SNI cache holds it before any obtainCertificate call.
      const ctx = await new Promise<tls.SecureContext | undefined>((resolve, reject) =>
        sup.certificates.sniCallback(DOMAIN, (err, c) => (err ? reject(err) : resolve(c))),
      );
      assert.ok(ctx, 'a secure context for the stored certificate');
      assert.equal(sup.unmanage(DOMAIN), true);
      assert.deepEqual(sup.renewals(), []);
    } finally {
      await sup.shutdown();
    }
  });

  it('with autoRenew off, the stored certificates are still served from the first handshake, and none is scheduled', async () => {
    const sup = await h.supervisor({ storeDir, autoRenew: false });
    try {
      const ctx = await new Promise<tls.SecureContext | undefined>((resolve, reject) =>
        sup.certificates.sniCallback(DOMAIN, (err, c) => (err ? reject(err) : resolve(c))),
      );
      assert.ok(ctx, 'a secure context for the stored certificate');
      assert.deepEqual(sup.renewals(), []);
    } finally {
      await sup.shutdown();
    }
  });

  it('a stored certificate marked revoked (leec revoke) is renewed as soon as the supervisor starts', async () => {
    const before = await h.supervisor({ storeDir });
    const stored = await before.store.loadCertificate(DOMAIN);
    await before.shutdown();
    assert.ok(stored);
    const serial = serialOf(stored.certPem);
    assert.equal(await before.store.recordRevocation(serial), DOMAIN);
    const sup = await h.supervisor({ storeDir });
    try {
      const renewed = await new Promise<{ domain: string; attempt: number }>((resolve) => sup.once('renewal:succeeded', resolve));
      assert.equal(renewed.domain, DOMAIN);
      const now = await sup.store.loadCertificate(DOMAIN);
      assert.notEqual(serialOf(now!.certPem), serial);
    } finally {
      await sup.shutdown();
    }
  });

  it('resetState forgets the stored certificates (not the account), so the next request orders afresh', async () => {
    const before = await h.supervisor({ storeDir });
    const accountUrl = before.accountUrl;
    await before.shutdown();
    const sup = await h.supervisor({ storeDir, resetState: true });
    try {
      assert.equal(sup.accountUrl, accountUrl);
      assert.equal(await sup.store.loadCertificate(DOMAIN), undefined);
      assert.deepEqual(sup.renewals(), []);
      const r = await sup.obtainCertificate(DOMAIN, { onlyIfDue: true });
      assert.equal(r.reused, false, 'nothing left to reuse');
    } finally {
      await sup.shutdown();
    }
  });

  it('the rate-limit gate queues a job past its new-order limit, says when it will start, and starts it then', async () => {
    const sup: Supervisor = await h.supervisor({ storeDir: join(h.storeDir, 'gate'), rateLimits: { newOrdersPerAccount: { count: 2, windowMs: 2000 } } });
    const queued: Array<{ domain: string; startsAt: number | undefined; blockedBy: string }> = [];
    const started = new Map<string, number>();
    sup.on('job:queued', (e) => queued.push(e));
    sup.on('state', (e) => {
      if (!started.has(e.domain)) started.set(e.domain, Date.now()); // the agent's first state: it is running
    });
    try {
      const t0 = Date.now();
      const names = ['gate1.example.test', 'gate2.example.test', 'gate3.example.test'];
      const results = await Promise.all(names.map((d) => sup.obtainCertificate(d)));
      assert.deepEqual(results.map((r) => r.names[0]), names);
      assert.equal(queued.length, 1, JSON.stringify(queued));
      // Whichever job reached the gate third is queued: each first reads its checkpoint and stored
      // certificate, so the three arrive in the order those reads finish, not in call order.
      const late = queued[0]!.domain;
      assert.ok(names.includes(late), late);
      assert.equal(queued[0]!.blockedBy, 'newOrders');
      assert.ok(queued[0]!.startsAt! >= t0 + 2000 && queued[0]!.startsAt! <= Date.now(), `startsAt ${queued[0]!.startsAt! - t0} ms after the calls`);
      assert.ok(started.get(late)! >= queued[0]!.startsAt!, 'the queued job did not start before its time');
      for (const d of names.filter((n) => n !== late)) assert.ok(started.get(d)! < queued[0]!.startsAt!, `${d} was not held back`);
    } finally {
      await sup.shutdown();
    }
  });
});
