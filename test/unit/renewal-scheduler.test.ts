/**
 * RenewalScheduler (src/lifecycle/renewal-scheduler.ts) on a FakeClock with seeded randomness: exact
 * firing times, one clock timer for 1000 domains, batches, never two renewals per domain, the retry ladder
 * through the scheduler (give-up at 30 days), the due-at-issuance halt, rebuild, stop, and a simulated year
 * of 1000 domains in which every renewal happens inside its window and no certificate expires.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../support/fake-clock.js';
import { flush, runUntil, seeded } from '../support/simulation.js';
import {
  DEFAULT_BATCH_SIZE,
  MAX_TIMER_DELAY_MS,
  RenewalScheduler,
  type RenewOutcome,
  type RenewalEvent,
  type RenewalSchedulerOptions,
} from '../../src/lifecycle/renewal-scheduler.js';
import { RENEWAL_DUE_AT_ISSUANCE, lifetimeRenewalPoint } from '../../src/lifecycle/renewal-policy.js';
import { AbortedError, ErrorCode, InvalidInputError } from '../../src/errors.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);




interface Deferred {
  promise: Promise<RenewOutcome>;
  resolve: (o: RenewOutcome) => void;
}
function deferred(): Deferred {
  let resolve!: (o: RenewOutcome) => void;
  const promise = new Promise<RenewOutcome>((r) => (resolve = r));
  return { promise, resolve };
}

function setup(opts: Partial<RenewalSchedulerOptions> & { renew: RenewalSchedulerOptions['renew']; start?: number }) {
  const clock = new FakeClock(opts.start ?? T0);
  const events: RenewalEvent[] = [];
  const scheduler = new RenewalScheduler({ random: () => 0.5, onEvent: (e) => events.push(e), ...opts, clock });
  return { clock, events, scheduler };
}

const issued = (clock: FakeClock, days = 90): RenewOutcome => ({ ok: true, notBefore: new Date(clock.now()), notAfter: new Date(clock.now() + days * DAY) });

describe('RenewalScheduler: firing on time', () => {
  it('fires a 90-day certificate exactly at its renewal moment, through a clamped timer', async () => {
    const calls: number[] = [];
    const { clock, scheduler, events } = setup({ renew: () => (calls.push(clock.now()), new Promise<RenewOutcome>(() => {})) });
    const t = scheduler.scheduleCertificate('a.example', { notBefore: new Date(T0), notAfter: new Date(T0 + 90 * DAY) });
    const at = T0 + 60 * DAY - 77_760_000; // the lifetime rule with random 0.5
    assert.deepEqual(t, { at, reason: 'lifetime', windowStart: T0 + 60 * DAY - 155_520_000, windowEnd: T0 + 60 * DAY });
    assert.deepEqual(scheduler.scheduled('a.example'), { domain: 'a.example', at, reason: 'lifetime' });
    assert.deepEqual(events, [{ type: 'renewal:scheduled', domain: 'a.example', at, reason: 'lifetime', windowStart: t.windowStart, windowEnd: t.windowEnd }]);
    // 58.2 days is more than Node's 2^31-1 ms: the timer is clamped and re-armed.
    assert.deepEqual(clock.pending(), [MAX_TIMER_DELAY_MS]);
    clock.advance(MAX_TIMER_DELAY_MS);
    assert.deepEqual(calls, []);
    assert.deepEqual(clock.pending(), [MAX_TIMER_DELAY_MS]);
    clock.advance(MAX_TIMER_DELAY_MS);
    assert.deepEqual(clock.pending(), [at - clock.now()]);
    clock.advance(at - clock.now() - 1);
    assert.deepEqual(calls, []);
    clock.advance(1);
    assert.deepEqual(calls, [at]);
    assert.equal(scheduler.isRunning('a.example'), true);
    assert.deepEqual(clock.pending(), []);
  });

  it('keeps one clock timer for 1000 domains, and fires them in time order', async () => {
    const calls: Array<[string, number]> = [];
    const { clock, scheduler } = setup({ renew: (d) => (calls.push([d, clock.now()]), new Promise<RenewOutcome>(() => {})) });
    const rnd = seeded(1);
    const ats = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const at = T0 + Math.floor(rnd() * 10 * DAY);
      ats.set(`d${i}.example`, at);
      scheduler.schedule(`d${i}.example`, at);
      assert.equal(clock.pending().length, 1);
    }
    assert.equal(scheduler.size, 1000);
    const sorted = [...ats.entries()].sort((a, b) => a[1] - b[1]);
    assert.deepEqual(clock.pending(), [sorted[0]![1] - T0]);
    assert.equal(scheduler.unschedule(sorted[0]![0]), true);
    assert.deepEqual(clock.pending(), [sorted[1]![1] - T0]);
    await runUntil(clock, T0 + 5 * DAY, () => assert.ok(clock.pending().length <= 1));
    await runUntil(clock, T0 + 11 * DAY, () => assert.ok(clock.pending().length <= 1));
    assert.equal(calls.length, 999);
    assert.deepEqual(calls, sorted.slice(1).map(([d, at]) => [d, at]));
    assert.deepEqual(clock.pending(), []);
    assert.equal(scheduler.size, 999); // all running, none scheduled
  });

  it('starts due renewals in batches of 100, one timer callback each, never one burst', async () => {
    let fires = 0;
    class CountingClock extends FakeClock {
      override setTimeout(fn: () => void, ms: number): unknown {
        return super.setTimeout(() => {
          fires++;
          fn();
        }, ms);
      }
    }
    const clock = new CountingClock(T0);
    const batchOf: number[] = [];
    const scheduler = new RenewalScheduler({ clock, random: () => 0.5, renew: () => (batchOf.push(fires), new Promise<RenewOutcome>(() => {})) });
    for (let i = 0; i < 1000; i++) scheduler.schedule(`d${i}.example`, T0 + HOUR);
    clock.advance(HOUR);
    const perFire = new Map<number, number>();
    for (const f of batchOf) perFire.set(f, (perFire.get(f) ?? 0) + 1);
    assert.equal(DEFAULT_BATCH_SIZE, 100);
    assert.deepEqual([...perFire.values()], Array(10).fill(100));
    assert.equal(clock.now(), T0 + HOUR); // the follow-up batches use delay 0
  });

  it('never runs two renewals of one domain; a schedule() while running is applied after', async () => {
    const runs: Deferred[] = [];
    const { clock, scheduler, events } = setup({ renew: () => (runs.push(deferred()), runs.at(-1)!.promise) });
    scheduler.schedule('a.example', T0);
    clock.advance(0);
    assert.equal(runs.length, 1);
    assert.equal(scheduler.isRunning('a.example'), true);
    scheduler.schedule('a.example', T0); // while running: remembered
    scheduler.schedule('a.example', T0 + 2 * HOUR); // the latest wins
    assert.deepEqual(scheduler.scheduled('a.example'), { domain: 'a.example', at: T0 + 2 * HOUR, reason: 'manual' });
    assert.deepEqual(clock.pending(), []);
    clock.advance(HOUR);
    assert.equal(runs.length, 1);
    runs[0]!.resolve(issued(clock));
    await flush();
    assert.equal(scheduler.isRunning('a.example'), false);
    assert.deepEqual(scheduler.scheduled('a.example'), { domain: 'a.example', at: T0 + 2 * HOUR, reason: 'manual' });
    clock.advance(HOUR);
    assert.equal(runs.length, 2);
    assert.deepEqual(
      events.map((e) => e.type),
      ['renewal:scheduled', 'renewal:started', 'renewal:succeeded', 'renewal:scheduled', 'renewal:started'],
    );
  });

  it('after a success, schedules the new certificate by the policy (lifetime, or ARI)', async () => {
    const { clock, scheduler, events } = setup({
      renew: async (d) =>
        d === 'ari.example'
          ? { ...issued(clock), ari: { start: new Date(clock.now() + 50 * DAY), end: new Date(clock.now() + 52 * DAY) } }
          : issued(clock, 6),
    });
    scheduler.schedule('ari.example', T0 + HOUR);
    scheduler.schedule('six.example', T0 + HOUR);
    clock.advance(HOUR);
    await flush();
    const now = T0 + HOUR;
    assert.deepEqual(scheduler.scheduled('ari.example'), { domain: 'ari.example', at: now + 51 * DAY, reason: 'ari' });
    assert.deepEqual(scheduler.scheduled('six.example'), { domain: 'six.example', at: now + 3 * DAY - 10_368_000 / 2, reason: 'lifetime' });
    assert.deepEqual(events.filter((e) => e.type === 'renewal:succeeded'), [
      { type: 'renewal:succeeded', domain: 'ari.example', attempt: 1, notBefore: now, notAfter: now + 90 * DAY },
      { type: 'renewal:succeeded', domain: 'six.example', attempt: 1, notBefore: now, notAfter: now + 6 * DAY },
    ]);
  });
});

describe('RenewalScheduler: failures', () => {
  it('retries on the ladder, gives up after 30 days, then tries once a day', async () => {
    const starts: number[] = [];
    const { clock, scheduler, events } = setup({ renew: async () => (starts.push(clock.now()), { ok: false, error: new Error('dns down') }) });
    scheduler.schedule('a.example', T0);
    await runUntil(clock, T0 + 30 * DAY + 1);
    const deltas = starts.slice(1).map((t, i) => (t - starts[i]!) / MIN);
    assert.deepEqual(deltas.slice(0, 12), [1, 2, 2, 5, 10, 20, 20, 30, 30, 60, 180, 360]);
    assert.ok(deltas.slice(11).every((d) => d === 360));
    assert.equal(starts.length, 131); // T0, 11 fast rungs up to 6 h, then every 6 h up to 30 d
    assert.equal(starts.at(-1), T0 + 30 * DAY);
    const gaveUp = events.filter((e) => e.type === 'renewal:gave-up');
    assert.deepEqual(gaveUp, [{ type: 'renewal:gave-up', domain: 'a.example', attempts: 131, firstFailureAt: T0, nextAt: T0 + 31 * DAY }]);
    const failed = events.filter((e) => e.type === 'renewal:failed');
    assert.equal(failed.length, 131);
    assert.deepEqual({ ...failed[0], error: undefined }, { type: 'renewal:failed', domain: 'a.example', attempt: 1, nextAt: T0 + MIN, error: undefined });
    assert.equal((failed[0] as { error?: Error }).error?.message, 'dns down');
    await runUntil(clock, T0 + 33 * DAY);
    assert.deepEqual(starts.slice(131), [T0 + 31 * DAY, T0 + 32 * DAY, T0 + 33 * DAY]);
    assert.equal(events.filter((e) => e.type === 'renewal:gave-up').length, 1); // announced once
    assert.equal(scheduler.size, 1);
  });

  it("afterGiveUp 'unschedule' drops the domain and leaves no timer", async () => {
    const { clock, scheduler } = setup({ afterGiveUp: 'unschedule', renew: async () => ({ ok: false }) });
    scheduler.schedule('a.example', T0);
    await runUntil(clock, T0 + 40 * DAY);
    assert.equal(scheduler.size, 0);
    assert.equal(scheduler.scheduled('a.example'), undefined);
    assert.deepEqual(clock.pending(), []);
  });

  it("honours the CA's Retry-After, also against an explicit schedule()", async () => {
    const starts: number[] = [];
    const answers: RenewOutcome[] = [
      { ok: false, retryAfterMs: 10 * MIN },
      { ok: false, retryAfterMs: 30_000 },
      { ok: false, retryAfterMs: HOUR },
    ];
    const { clock, scheduler } = setup({ renew: async () => (starts.push(clock.now()), answers.shift() ?? { ok: false }) });
    scheduler.schedule('a.example', T0);
    clock.advance(0);
    await flush();
    assert.deepEqual(scheduler.scheduled('a.example'), { domain: 'a.example', at: T0 + 10 * MIN, reason: 'retry' });
    clock.advance(10 * MIN);
    await flush();
    assert.deepEqual(scheduler.scheduled('a.example'), { domain: 'a.example', at: T0 + 12 * MIN, reason: 'retry' }); // ladder's 2 min > 30 s
    clock.advance(2 * MIN);
    await flush();
    scheduler.schedule('a.example', clock.now()); // an operator's "retry now"
    assert.deepEqual(scheduler.scheduled('a.example'), { domain: 'a.example', at: T0 + 12 * MIN + HOUR, reason: 'manual' });
    assert.deepEqual(starts, [T0, T0 + 10 * MIN, T0 + 12 * MIN]);
  });

  it('a renew() that throws or rejects is a failure', async () => {
    let n = 0;
    const { clock, scheduler, events } = setup({
      renew: (): Promise<RenewOutcome> => {
        n++;
        if (n === 1) throw new Error('sync boom');
        return Promise.reject(new Error('async boom'));
      },
    });
    scheduler.schedule('a.example', T0);
    clock.advance(0);
    await flush();
    clock.advance(MIN);
    await flush();
    const failed = events.filter((e): e is Extract<RenewalEvent, { type: 'renewal:failed' }> => e.type === 'renewal:failed');
    assert.deepEqual(failed.map((e) => [e.attempt, e.nextAt, (e.error as Error).message]), [
      [1, T0 + MIN, 'sync boom'],
      [2, T0 + 3 * MIN, 'async boom'],
    ]);
  });

  it('scheduleCertificate within a failure cycle is not earlier than the next retry', async () => {
    const { clock, scheduler } = setup({ renew: async () => ({ ok: false }) });
    scheduler.schedule('a.example', T0);
    clock.advance(0);
    await flush();
    // An ARI poll says "renew now" (window in the past): the backoff still holds (RFC 9773 §4.2).
    scheduler.scheduleCertificate('a.example', { notBefore: new Date(T0 - 80 * DAY), notAfter: new Date(T0 + 10 * DAY), ari: { start: new Date(T0 - DAY), end: new Date(T0 - HOUR) } });
    assert.deepEqual(scheduler.scheduled('a.example'), { domain: 'a.example', at: T0 + MIN, reason: 'retry' });
  });

  it('a certificate obtained outside the scheduler ends the failure cycle: the next failure is attempt 1 on the first rung', async () => {
    let fail = true;
    const { clock, scheduler, events } = setup({ renew: async () => (fail ? { ok: false } : issued(clock)) });
    scheduler.schedule('a.example', T0);
    await runUntil(clock, T0 + DAY); // a day of failures, up the ladder
    const failedBefore = events.filter((e) => e.type === 'renewal:failed').length;
    assert.ok(failedBefore >= 10, `failures: ${failedBefore}`);
    // A manual order succeeds: its certificate comes in from outside.
    scheduler.certificateObtained('a.example', { notBefore: new Date(clock.now()), notAfter: new Date(clock.now() + 90 * DAY) });
    const planned = scheduler.scheduled('a.example')!;
    assert.equal(planned.reason, 'lifetime');
    events.length = 0;
    await runUntil(clock, planned.at);
    const failed = events.find((e) => e.type === 'renewal:failed') as Extract<RenewalEvent, { type: 'renewal:failed' }>;
    assert.equal(failed.attempt, 1);
    assert.equal(failed.nextAt, planned.at + MIN, 'the ladder starts again at one minute');
    assert.equal(events.some((e) => e.type === 'renewal:gave-up'), false);
    fail = false;
    // A certificate with no validity (notAfter = notBefore) is refused, and leaves no entry behind.
    assert.throws(() => scheduler.certificateObtained('b.example', { notBefore: new Date(T0), notAfter: new Date(T0) }), { code: ErrorCode.invalidOption });
    assert.deepEqual(scheduler.domains(), ['a.example']);
    scheduler.stop();
  });
});

describe('RenewalScheduler: due at issuance, unschedule, rebuild, stop', () => {
  it('a new certificate already due is an error event, and the domain is not rescheduled', async () => {
    let calls = 0;
    const { clock, scheduler, events } = setup({
      renew: async () => (calls++, { ok: true, notBefore: new Date(clock.now()), notAfter: new Date(clock.now() + MIN) }),
    });
    scheduler.schedule('short.example', T0);
    clock.advance(0);
    await flush();
    const halted = events.filter((e): e is Extract<RenewalEvent, { type: 'renewal:halted' }> => e.type === 'renewal:halted');
    assert.equal(halted.length, 1);
    assert.ok(halted[0]!.error instanceof InvalidInputError);
    assert.equal(halted[0]!.error.code, RENEWAL_DUE_AT_ISSUANCE);
    assert.equal(halted[0]!.error.data.reason, 'lifetimeTooShort');
    assert.equal(halted[0]!.domain, 'short.example');
    assert.equal(scheduler.scheduled('short.example'), undefined);
    assert.equal(scheduler.size, 0);
    assert.deepEqual(clock.pending(), []);
    await runUntil(clock, T0 + 7 * DAY);
    assert.equal(calls, 1);
  });

  it('a malformed success (a notAfter that is not a date) halts the domain too', async () => {
    const { clock, scheduler, events } = setup({ renew: async () => ({ ok: true, notBefore: new Date(clock.now()), notAfter: 'soon' }) });
    scheduler.schedule('a.example', T0);
    clock.advance(0);
    await flush();
    const last = events.at(-1)!;
    assert.equal(last.type, 'renewal:halted');
    assert.equal((last as Extract<RenewalEvent, { type: 'renewal:halted' }>).error.code, ErrorCode.invalidOption);
    assert.equal(scheduler.size, 0);
  });

  it('unschedule while running: the outcome is ignored', async () => {
    const run = deferred();
    const { clock, scheduler, events } = setup({ renew: () => run.promise });
    scheduler.schedule('a.example', T0);
    clock.advance(0);
    assert.equal(scheduler.unschedule('a.example'), true);
    run.resolve(issued(clock));
    await flush();
    assert.equal(scheduler.size, 0);
    assert.deepEqual(events.map((e) => e.type), ['renewal:scheduled', 'renewal:started']);
    assert.deepEqual(clock.pending(), []);
    assert.equal(scheduler.unschedule('a.example'), false);
  });

  it('rebuild schedules each stored certificate by the policy, an overdue one at once', async () => {
    const started: Array<[string, number]> = [];
    const { clock, scheduler } = setup({ renew: (d) => (started.push([d, clock.now()]), new Promise<RenewOutcome>(() => {})), start: T0 + 10 * DAY });
    const now = T0 + 10 * DAY;
    const planned = scheduler.rebuild([
      { domain: 'ninety.example', notBefore: new Date(T0).toISOString(), notAfter: new Date(T0 + 90 * DAY).toISOString() },
      { domain: 'six.example', notBefore: new Date(now - DAY), notAfter: new Date(now + 5 * DAY) },
      { domain: 'old.example', notBefore: new Date(T0 - 70 * DAY), notAfter: new Date(T0 + 20 * DAY) },
      { domain: 'ari.example', notBefore: new Date(T0), notAfter: new Date(T0 + 90 * DAY), ari: { start: new Date(now + DAY), end: new Date(now + 3 * DAY) } },
    ]);
    assert.deepEqual(planned.map((p) => [p.domain, p.at, p.reason]), [
      ['ninety.example', T0 + 60 * DAY - 77_760_000, 'lifetime'],
      ['six.example', now + 2 * DAY - 5_184_000, 'lifetime'],
      ['old.example', now, 'lifetime'],
      ['ari.example', now + 2 * DAY, 'ari'],
    ]);
    assert.equal(scheduler.size, 4);
    assert.deepEqual(clock.pending(), [0]);
    clock.advance(0);
    assert.deepEqual(started, [['old.example', now]]);
    assert.deepEqual(clock.pending(), [2 * DAY - 5_184_000]);
  });

  it('rebuild checks every entry first: a duplicate or a bad date schedules nothing', () => {
    const { clock, scheduler } = setup({ renew: async () => ({ ok: false }) });
    const good = { domain: 'a.example', notBefore: new Date(T0), notAfter: new Date(T0 + 90 * DAY) };
    assert.throws(() => scheduler.rebuild([good, { ...good }]), (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidDomain && e.data.reason === 'duplicate');
    assert.throws(() => scheduler.rebuild([good, { domain: 'b.example', notBefore: 'x', notAfter: 'y' }]), (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidOption);
    assert.equal(scheduler.size, 0);
    assert.deepEqual(clock.pending(), []);
  });

  it('stop() leaves no timer, ignores running renewals, and refuses new work', async () => {
    const run = deferred();
    const { clock, scheduler, events } = setup({ renew: () => run.promise });
    for (let i = 0; i < 10; i++) scheduler.schedule(`d${i}.example`, T0 + (i + 1) * HOUR);
    scheduler.schedule('running.example', T0);
    clock.advance(0);
    assert.equal(scheduler.isRunning('running.example'), true);
    assert.equal(clock.pending().length, 1);
    const before = events.length;
    scheduler.stop();
    assert.deepEqual(clock.pending(), []);
    assert.equal(scheduler.size, 0);
    run.resolve(issued(clock));
    await flush();
    clock.advance(30 * DAY);
    assert.deepEqual(clock.pending(), []);
    assert.equal(events.length, before);
    assert.throws(() => scheduler.schedule('a.example', T0), (e: unknown) => e instanceof AbortedError && e.code === ErrorCode.aborted);
    assert.equal(scheduler.unschedule('d1.example'), false);
  });

  it('rejects bad options and input with typed errors', () => {
    const clock = new FakeClock(T0);
    assert.throws(() => new RenewalScheduler({ clock, renew: undefined as never }), (e: unknown) => e instanceof InvalidInputError && e.data.option === 'renew');
    assert.throws(() => new RenewalScheduler({ clock, renew: async () => ({ ok: false }), batchSize: 0 }), (e: unknown) => e instanceof InvalidInputError && e.data.option === 'batchSize');
    const s = new RenewalScheduler({ clock, renew: async () => ({ ok: false }) });
    assert.throws(() => s.schedule('', T0), (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidDomain);
    assert.throws(() => s.schedule('a.example', Number.NaN), (e: unknown) => e instanceof InvalidInputError && e.data.option === 'at');
    assert.equal(s.size, 0);
  });

  it('a listener that throws does not stop renewals', async () => {
    const clock = new FakeClock(T0);
    let calls = 0;
    const s = new RenewalScheduler({
      clock,
      random: () => 0.5,
      renew: async () => (calls++, issued(clock)),
      onEvent: () => {
        throw new Error('bad listener');
      },
    });
    s.schedule('a.example', T0);
    clock.advance(0);
    await flush();
    assert.equal(calls, 1);
    assert.deepEqual(s.scheduled('a.example'), { domain: 'a.example', at: T0 + 60 * DAY - 77_760_000, reason: 'lifetime' });
  });
});

describe('RenewalScheduler: a simulated year', () => {
  it('1000 domains with 90-day certificates: every renewal inside its window, none ever expires', async (t) => {
    const N = 1000;
    const LIFE = 90 * DAY;
    const OUTAGE_FROM = 59 * DAY;
    const OUTAGE_TO = 62 * DAY;
    const clock = new FakeClock(T0);
    const sim = seeded(7);
    const certs = new Map<string, { notBefore: number; notAfter: number }>();
    const running = new Set<string>();
    const lastScheduled = new Map<string, Extract<RenewalEvent, { type: 'renewal:scheduled' }>>();
    const renewedCount = new Map<string, number>();
    const violations: string[] = [];
    let inflightTimers = 0;
    let firstAttempts = 0;
    let insideWindow = 0;
    let failures = 0;
    let ariUsed = 0;
    let outageFailures = 0;
    let renewedAfterOutage = 0;

    const renew = (domain: string): Promise<RenewOutcome> => {
      if (running.has(domain)) violations.push(`${domain}: two renewals at once`);
      running.add(domain);
      // 15% of attempts fail, and every attempt fails during a 3-day CA outage that starts just as the first
      // wave of renewals does: those climb the retry ladder to its 6-hour rungs and must still make it.
      const inOutage = clock.now() >= T0 + OUTAGE_FROM && clock.now() < T0 + OUTAGE_TO;
      const fail = sim() < 0.15 || inOutage;
      const retryAfterMs = fail && sim() < 0.2 ? HOUR : undefined;
      const delay = sim() < 0.5 ? 0 : Math.floor(sim() * 10 * MIN);
      const settle = (): RenewOutcome => {
        running.delete(domain);
        const now = clock.now();
        if (fail) {
          failures++;
          if (inOutage) outageFailures++;
          return { ok: false, retryAfterMs, error: new Error('simulated failure') };
        }
        const old = certs.get(domain)!;
        if (old.notAfter <= now) violations.push(`${domain}: renewed at ${now - old.notAfter} ms after expiry`);
        if (old.notBefore === T0 && now >= T0 + OUTAGE_TO) renewedAfterOutage++;
        certs.set(domain, { notBefore: now, notAfter: now + LIFE });
        renewedCount.set(domain, (renewedCount.get(domain) ?? 0) + 1);
        // A third of the domains get Boulder's ARI window (±1% of validity around a third left).
        const ideal = now + LIFE - LIFE / 3;
        const ari = domain.endsWith('0.example') || domain.endsWith('3.example') || domain.endsWith('6.example')
          ? { start: new Date(ideal - LIFE / 100), end: new Date(ideal + LIFE / 100) }
          : undefined;
        return { ok: true, notBefore: new Date(now), notAfter: new Date(now + LIFE), ari };
      };
      if (delay === 0) return Promise.resolve().then(settle);
      inflightTimers++;
      return new Promise((resolve) =>
        clock.setTimeout(() => {
          inflightTimers--;
          resolve(settle());
        }, delay),
      );
    };

    const onEvent = (e: RenewalEvent): void => {
      const now = clock.now();
      if (e.type === 'renewal:scheduled') {
        lastScheduled.set(e.domain, e);
        if (e.reason === 'ari' || e.reason === 'lifetime') {
          const c = certs.get(e.domain)!;
          if (e.windowEnd! > lifetimeRenewalPoint(c.notBefore, c.notAfter)) violations.push(`${e.domain}: window ends after the lifetime rule`);
          if (!(e.at === now || (e.at >= e.windowStart! && e.at < e.windowEnd!))) violations.push(`${e.domain}: at outside its window`);
          if (e.reason === 'ari') ariUsed++;
        }
      } else if (e.type === 'renewal:started') {
        const s = lastScheduled.get(e.domain)!;
        if (s.at !== now) violations.push(`${e.domain}: started at ${now}, scheduled for ${s.at}`);
        if (certs.get(e.domain)!.notAfter <= now) violations.push(`${e.domain}: expired before its renewal started`);
        if (e.attempt === 1) {
          firstAttempts++;
          if ((s.reason === 'ari' || s.reason === 'lifetime') && now >= s.windowStart! && now < s.windowEnd!) insideWindow++;
          else violations.push(`${e.domain}: first attempt outside its window (${s.reason})`);
        }
      } else if (e.type === 'renewal:halted' || e.type === 'renewal:gave-up') {
        violations.push(`${e.domain}: ${e.type}`);
      }
    };

    const scheduler = new RenewalScheduler({ clock, renew, onEvent, random: seeded(42) });
    // The worst case: all 1000 certificates issued in the same minute.
    const stored = Array.from({ length: N }, (_, i) => ({ domain: `d${i}.example`, notBefore: new Date(T0), notAfter: new Date(T0 + LIFE) }));
    for (const c of stored) certs.set(c.domain, { notBefore: T0, notAfter: T0 + LIFE });
    scheduler.rebuild(stored);

    const started = Date.now();
    await runUntil(clock, T0 + 365 * DAY, () => {
      if (clock.pending().length > 1 + inflightTimers) violations.push(`more than one scheduler timer at ${clock.now()}`);
    });
    const elapsed = Date.now() - started;

    assert.deepEqual(violations.slice(0, 10), []);
    const now = clock.now();
    assert.equal([...certs.values()].filter((c) => c.notAfter <= now).length, 0);
    const counts = [...renewedCount.values()];
    assert.equal(counts.length, N);
    assert.ok(Math.min(...counts) >= 5, `fewest renewals of a domain: ${Math.min(...counts)}`);
    assert.equal(insideWindow, firstAttempts);
    assert.ok(failures > 500, `failures simulated: ${failures}`);
    assert.ok(ariUsed > 1000, `ARI windows used: ${ariUsed}`);
    assert.ok(outageFailures > 1000, `failures during the outage: ${outageFailures}`);
    assert.ok(renewedAfterOutage > 300, `first certificates renewed only after the outage: ${renewedAfterOutage}`);
    assert.equal(scheduler.size, N);
    scheduler.stop();
    t.diagnostic(`the simulated year took ${elapsed} ms of wall time`);
  });
});
