/**
 * The lifecycle as the Supervisor composes it, on one fake clock over a simulated year: the
 * RenewalScheduler fires each renewal, and every renewal job passes the RateLimitGate (Let's Encrypt's
 * production limits, 8 slots) before it runs, as Supervisor#obtain does. 1000 domains with 90-day
 * certificates, all issued in the same minute (the worst case), under 100 registered domains; 10% of
 * attempts fail validation, and one host fails every time for a day, so the failed-validation limit
 * has to hold it back. Checked: every first attempt starts inside its window, no certificate expires, no
 * sliding window of any limit is ever exceeded, and after stop() nothing is left: no clock timer, and the
 * process's active handles are what they were.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../support/fake-clock.js';
import { maxInAnyWindow, runUntil, seeded } from '../support/simulation.js';
import { activeResources, settleResources } from '../support/active-resources.js';
import { RenewalScheduler, type RenewalEvent, type RenewOutcome } from '../../src/lifecycle/renewal-scheduler.js';
import { RateLimitGate } from '../../src/lifecycle/rate-limit-gate.js';
import { LETS_ENCRYPT_PRODUCTION_LIMITS as LE } from '../../src/lifecycle/rate-limit-presets.js';
import { registeredDomain } from '../../src/lifecycle/registered-domain.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const N = 1000;
const LIFE = 90 * DAY;
const ACCOUNT = 'https://acme.test/acct/1';
const BROKEN = 'd7.site3.com';


describe('lifecycle simulation: scheduler + rate-limit gate, one simulated year', () => {
  it("1000 domains under Let's Encrypt's limits: renewals start in their windows, none expires, no limit exceeded, nothing left after stop()", async (t) => {
    await settleResources();
    const baseline = activeResources();
    const clock = new FakeClock(T0);
    const sim = seeded(11);
    const gate = new RateLimitGate({ clock, limits: LE, maxConcurrent: 8 });
    const certs = new Map<string, { notBefore: number; notAfter: number }>();
    const windows = new Map<string, { start: number; end: number; reason: string }>();
    const violations: string[] = [];
    const orderStarts: number[] = [];
    const issuedByRegistered = new Map<string, number[]>();
    const issuedByName = new Map<string, number[]>();
    const failuresByHost = new Map<string, number[]>();
    let firstAttempts = 0;
    let startedInWindow = 0;
    let queuedAtGate = 0;
    let heldByFailures = 0;

    const renew = async (domain: string): Promise<RenewOutcome> => {
      const asked = clock.now();
      // As Supervisor#obtain: the job waits at the gate (queued, never failed), then its agent runs.
      const ticket = await gate.acquire({ id: `${domain}@${asked}`, account: ACCOUNT, names: [domain] });
      if (ticket.startedAt > asked) queuedAtGate++;
      orderStarts.push(ticket.startedAt);
      const w = windows.get(domain);
      if (w?.reason === 'lifetime' || w?.reason === 'ari') {
        firstAttempts++;
        if (ticket.startedAt >= w.start && ticket.startedAt < w.end) startedInWindow++;
        else violations.push(`${domain}: first attempt started at ${ticket.startedAt}, window [${w.start}, ${w.end})`);
      }
      if (certs.get(domain)!.notAfter <= ticket.startedAt) violations.push(`${domain}: expired before its renewal started`);
      const broken = domain === BROKEN && clock.now() >= T0 + 59 * DAY && clock.now() < T0 + 60 * DAY;
      const fails = broken || sim() < 0.1;
      // An order takes 5 s to 10 min (validation, finalize).
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 5_000 + Math.floor(sim() * 10 * MIN)));
      const now = clock.now();
      if (fails) {
        (failuresByHost.get(domain) ?? failuresByHost.set(domain, []).get(domain)!).push(now);
        ticket.release({ ok: false, failedHosts: [domain], certificateIssued: false });
        return { ok: false, error: new Error('simulated invalid authorization') };
      }
      ticket.release({ ok: true });
      const reg = registeredDomain(domain);
      (issuedByRegistered.get(reg) ?? issuedByRegistered.set(reg, []).get(reg)!).push(ticket.startedAt);
      (issuedByName.get(domain) ?? issuedByName.set(domain, []).get(domain)!).push(ticket.startedAt);
      certs.set(domain, { notBefore: now, notAfter: now + LIFE });
      return { ok: true, notBefore: new Date(now), notAfter: new Date(now + LIFE) };
    };

    const onEvent = (e: RenewalEvent): void => {
      if (e.type === 'renewal:scheduled') {
        windows.set(e.domain, { start: e.windowStart ?? e.at, end: e.windowEnd ?? e.at, reason: e.reason });
        if (e.reason === 'retry' && e.domain === BROKEN) heldByFailures++;
      } else if (e.type === 'renewal:halted' || e.type === 'renewal:gave-up') {
        violations.push(`${e.domain}: ${e.type}`);
      }
    };
    const scheduler = new RenewalScheduler({ clock, renew, onEvent, random: seeded(5) });
    const domains = Array.from({ length: N }, (_, i) => `d${i % 10}.site${Math.floor(i / 10)}.com`);
    for (const d of domains) certs.set(d, { notBefore: T0, notAfter: T0 + LIFE });
    scheduler.rebuild(domains.map((domain) => ({ domain, notBefore: new Date(T0), notAfter: new Date(T0 + LIFE) })));

    await runUntil(clock, T0 + 365 * DAY);

    assert.deepEqual(violations.slice(0, 10), []);
    const now = clock.now();
    assert.equal([...certs.values()].filter((c) => c.notAfter <= now).length, 0, 'no certificate expired');
    assert.ok(firstAttempts >= 4 * N, `first attempts: ${firstAttempts}`);
    assert.equal(startedInWindow, firstAttempts);
    // The limits, as sliding windows over the whole year.
    assert.ok(maxInAnyWindow(orderStarts, LE.newOrdersPerAccount!.windowMs) <= LE.newOrdersPerAccount!.count);
    for (const times of issuedByRegistered.values()) assert.ok(maxInAnyWindow(times, LE.certificatesPerRegisteredDomain!.windowMs) <= LE.certificatesPerRegisteredDomain!.count);
    for (const times of issuedByName.values()) assert.ok(maxInAnyWindow(times, LE.duplicateCertificates!.windowMs) <= LE.duplicateCertificates!.count);
    for (const times of failuresByHost.values()) assert.ok(maxInAnyWindow(times, LE.failedValidationsPerHost!.windowMs) <= LE.failedValidationsPerHost!.count);
    // The limits did work: the broken host hit its failed-validation limit, and jobs queued for slots.
    const brokenFailures = failuresByHost.get(BROKEN) ?? [];
    assert.equal(maxInAnyWindow(brokenFailures, HOUR), LE.failedValidationsPerHost!.count, `the broken host failed ${brokenFailures.length} times`);
    assert.ok(heldByFailures > 5 && queuedAtGate > 0, `retries of the broken host: ${heldByFailures}, jobs queued at the gate: ${queuedAtGate}`);
    t.diagnostic(`${orderStarts.length} orders, ${firstAttempts} first attempts, ${queuedAtGate} queued at the gate, ${brokenFailures.length} failures of the broken host`);

    scheduler.stop();
    gate.stop();
    assert.deepEqual(clock.pending(), [], 'no clock timer left');
    assert.equal(scheduler.size, 0);
    await settleResources();
    assert.deepEqual(activeResources(), baseline, 'no real timer, socket or handle was ever made');
  });
});
