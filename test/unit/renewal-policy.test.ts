/**
 * When a certificate renews (src/lifecycle/renewal-policy.ts) and when a failed renewal is retried
 * (src/lifecycle/retry-ladder.ts): exact moments for 90-day and 6-day certificates, ARI windows (inside,
 * past, later than the lifetime rule), jitter bounds over many seeds, the due-at-issuance error, and the
 * retry ladder's exact sequence with and without Retry-After.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  LIFETIME_JITTER_DIVISOR,
  RENEWAL_DUE_AT_ISSUANCE,
  checkNotDueAtIssuance,
  lifetimeRenewalPoint,
  renewalDeadline,
  renewalTime,
} from '../../src/lifecycle/renewal-policy.js';
import { GAVE_UP_RETRY_MS, MAX_RETRY_DURATION_MS, RETRY_LADDER_MS, nextRetry, retryDelayMs } from '../../src/lifecycle/retry-ladder.js';
import { ErrorCode, InvalidInputError } from '../../src/errors.js';
import { seeded } from '../support/simulation.js';

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

const fixed = (r: number) => (): number => r;

function cert(days: number, from = T0): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(from), notAfter: new Date(from + days * DAY) };
}

function expectInvalid(fn: () => unknown, code: string = ErrorCode.invalidOption): InvalidInputError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof InvalidInputError, `expected InvalidInputError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.step, 'input');
  return caught;
}

describe('renewalTime: the lifetime rule', () => {
  it('a 90-day certificate renews in the 1.8 days before 60 days (a third left), exactly', () => {
    const L = T0 + 60 * DAY;
    const J = (90 * DAY) / LIFETIME_JITTER_DIVISOR;
    assert.equal(J, 155_520_000); // 1.8 days
    assert.deepEqual(renewalTime({ ...cert(90), now: T0, random: fixed(0) }), { at: L - J, reason: 'lifetime', windowStart: L - J, windowEnd: L });
    assert.deepEqual(renewalTime({ ...cert(90), now: T0, random: fixed(0.5) }), { at: L - 77_760_000, reason: 'lifetime', windowStart: L - J, windowEnd: L });
    assert.equal(renewalTime({ ...cert(90), now: T0, random: fixed(0.999999) }).at, L - J + Math.floor(0.999999 * J));
  });

  it("a Let's Encrypt 90-day certificate (notAfter = notBefore + 90 d - 1 s) renews no later than the exact third", () => {
    const notAfter = T0 + 90 * DAY - 1000;
    const L = lifetimeRenewalPoint(T0, notAfter);
    assert.equal(L, notAfter - 2_591_999_667); // ceil((90 d - 1 s) / 3): rounded so it is never later than the rule
    assert.ok(L <= notAfter - (notAfter - T0) / 3);
    const t = renewalTime({ notBefore: new Date(T0).toISOString(), notAfter: new Date(notAfter).toISOString(), now: T0, random: fixed(0) });
    assert.deepEqual(t, { at: L - 155_519_980, reason: 'lifetime', windowStart: L - 155_519_980, windowEnd: L });
  });

  it('a 6-day certificate renews at half its lifetime, in the 2.88 h before day 3', () => {
    const L = T0 + 3 * DAY;
    const J = 10_368_000; // 6 d / 50 = 2.88 h
    assert.deepEqual(renewalTime({ ...cert(6), now: T0, random: fixed(0.25) }), { at: L - J + 2_592_000, reason: 'lifetime', windowStart: L - J, windowEnd: L });
  });

  it('half up to 10 days of lifetime, a third beyond', () => {
    assert.equal(lifetimeRenewalPoint(T0, T0 + 10 * DAY), T0 + 5 * DAY);
    assert.equal(lifetimeRenewalPoint(T0, T0 + 10 * DAY + 3), T0 + 10 * DAY + 3 - Math.ceil((10 * DAY + 3) / 3));
    assert.equal(lifetimeRenewalPoint(T0, T0 + 45 * DAY), T0 + 30 * DAY);
  });

  it('jitter over 2000 seeds stays in [L - lifetime/50, L) and covers it', () => {
    for (const days of [90, 45, 6]) {
      const L = lifetimeRenewalPoint(T0, T0 + days * DAY);
      const J = Math.floor((days * DAY) / LIFETIME_JITTER_DIVISOR);
      let min = Infinity;
      let max = -Infinity;
      let sum = 0;
      for (let seed = 1; seed <= 2000; seed++) {
        const { at, windowStart, windowEnd } = renewalTime({ ...cert(days), now: T0, random: seeded(seed) });
        assert.equal(windowStart, L - J);
        assert.equal(windowEnd, L);
        assert.ok(at >= L - J && at < L, `${days} d, seed ${seed}: ${at - L}`);
        min = Math.min(min, at);
        max = Math.max(max, at);
        sum += at;
      }
      assert.ok(min - (L - J) < J * 0.01, `${days} d: lowest draw ${(min - (L - J)) / J} of the spread from its start`);
      assert.ok(L - max < J * 0.01, `${days} d: highest draw ${(L - max) / J} of the spread from L`);
      assert.ok(Math.abs(sum / 2000 - (L - J / 2)) < J * 0.03, `${days} d: mean off by ${(sum / 2000 - (L - J / 2)) / J}`);
    }
  });

  it('overdue: now when the rule is past, the rest of the spread when inside it', () => {
    const L = T0 + 60 * DAY;
    const J = 155_520_000;
    assert.equal(renewalTime({ ...cert(90), now: L, random: fixed(0.7) }).at, L);
    assert.equal(renewalTime({ ...cert(90), now: T0 + 95 * DAY, random: fixed(0.7) }).at, T0 + 95 * DAY); // already expired
    const now = L - J / 4;
    for (let seed = 1; seed <= 200; seed++) {
      const at = renewalTime({ ...cert(90), now, random: seeded(seed) }).at;
      assert.ok(at >= now && at < L, `seed ${seed}`);
    }
    assert.equal(renewalTime({ ...cert(90), now, random: fixed(0.5) }).at, now + J / 8);
  });
});

describe('renewalTime: ARI (RFC 9773 §4.2)', () => {
  const L = T0 + 60 * DAY;

  it('a window before the lifetime rule: a uniform moment inside it', () => {
    const ari = { start: new Date(T0 + 50 * DAY), end: new Date(T0 + 52 * DAY) };
    assert.deepEqual(renewalTime({ ...cert(90), ari, now: T0, random: fixed(0.5) }), {
      at: T0 + 51 * DAY,
      reason: 'ari',
      windowStart: T0 + 50 * DAY,
      windowEnd: T0 + 52 * DAY,
    });
    for (let seed = 1; seed <= 500; seed++) {
      const at = renewalTime({ ...cert(90), ari, now: T0, random: seeded(seed) }).at;
      assert.ok(at >= T0 + 50 * DAY && at < T0 + 52 * DAY, `seed ${seed}`);
    }
  });

  it('a window already past: now (renew immediately)', () => {
    const ari = { start: new Date(T0 + 10 * DAY), end: new Date(T0 + 11 * DAY) };
    const now = T0 + 20 * DAY;
    assert.deepEqual(renewalTime({ ...cert(90), ari, now, random: fixed(0.3) }), { at: now, reason: 'ari', windowStart: T0 + 10 * DAY, windowEnd: T0 + 11 * DAY });
  });

  it('a window partly past: a moment in what is left of it', () => {
    const ari = { start: new Date(T0 + 50 * DAY), end: new Date(T0 + 52 * DAY) };
    const now = T0 + 51.5 * DAY;
    assert.equal(renewalTime({ ...cert(90), ari, now, random: fixed(0.5) }).at, now + DAY / 4);
    for (let seed = 1; seed <= 200; seed++) {
      const at = renewalTime({ ...cert(90), ari, now, random: seeded(seed) }).at;
      assert.ok(at >= now && at < T0 + 52 * DAY, `seed ${seed}`);
    }
  });

  it('safety net: a window entirely later than the lifetime rule is not used', () => {
    const ari = { start: new Date(T0 + 70 * DAY), end: new Date(T0 + 72 * DAY) };
    const withAri = renewalTime({ ...cert(90), ari, now: T0, random: fixed(0.5) });
    assert.deepEqual(withAri, renewalTime({ ...cert(90), now: T0, random: fixed(0.5) }));
    assert.equal(withAri.reason, 'lifetime');
    assert.ok(withAri.at < L);
    // A window starting exactly at L leaves nothing before it either.
    assert.equal(renewalTime({ ...cert(90), ari: { start: new Date(L), end: new Date(L + DAY) }, now: T0, random: fixed(0.5) }).reason, 'lifetime');
  });

  it("safety net: a window straddling the lifetime rule (Boulder's ±1%) is cut at it", () => {
    const margin = (90 * DAY) / 100;
    const ari = { start: new Date(L - margin), end: new Date(L + margin) };
    const t = renewalTime({ ...cert(90), ari, now: T0, random: fixed(0.5) });
    assert.deepEqual(t, { at: L - margin / 2, reason: 'ari', windowStart: L - margin, windowEnd: L });
    for (let seed = 1; seed <= 500; seed++) {
      const at = renewalTime({ ...cert(90), ari, now: T0, random: seeded(seed) }).at;
      assert.ok(at >= L - margin && at < L, `seed ${seed}`);
    }
    assert.equal(renewalDeadline({ ...cert(90), ari }), L);
  });

  it('an invalid window (end not after start) is ignored, as §4.2 asks', () => {
    const ari = { start: new Date(T0 + 50 * DAY), end: new Date(T0 + 50 * DAY) };
    assert.deepEqual(renewalTime({ ...cert(90), ari, now: T0, random: fixed(0.5) }), renewalTime({ ...cert(90), now: T0, random: fixed(0.5) }));
    assert.equal(renewalTime({ ...cert(90), ari: { start: new Date('nope'), end: new Date(T0) }, now: T0, random: fixed(0.5) }).reason, 'lifetime');
  });

  it('renewalDeadline: the lifetime rule, or the end of an earlier ARI window', () => {
    assert.equal(renewalDeadline(cert(90)), L);
    assert.equal(renewalDeadline({ ...cert(90), ari: { start: new Date(T0 + 50 * DAY), end: new Date(T0 + 52 * DAY) } }), T0 + 52 * DAY);
    assert.equal(renewalDeadline({ ...cert(90), ari: { start: new Date(T0 + 70 * DAY), end: new Date(T0 + 72 * DAY) } }), L);
  });
});

describe('renewalTime: bad input', () => {
  it('rejects dates that are not dates, an empty validity, a bad now or random', () => {
    assert.equal(expectInvalid(() => renewalTime({ notBefore: 'yesterday', notAfter: new Date(T0), now: T0, random: fixed(0) })).data.reason, 'badDate');
    assert.equal(expectInvalid(() => renewalTime({ notBefore: new Date(T0), notAfter: new Date(T0), now: T0, random: fixed(0) })).data.reason, 'emptyValidity');
    assert.equal(expectInvalid(() => renewalTime({ ...cert(90), now: Number.NaN, random: fixed(0) })).data.reason, 'badNow');
    assert.equal(expectInvalid(() => renewalTime({ ...cert(90), now: T0, random: fixed(1) })).data.reason, 'badRandom');
    assert.equal(expectInvalid(() => renewalTime({ ...cert(90), now: T0, random: fixed(-0.1) })).data.reason, 'badRandom');
  });
});

describe('checkNotDueAtIssuance', () => {
  it('a fresh 90-day certificate is fine: returns the moment it is due by', () => {
    assert.equal(checkNotDueAtIssuance({ ...cert(90), now: T0, domain: 'a.example' }), T0 + 60 * DAY);
    assert.equal(checkNotDueAtIssuance({ ...cert(6), now: T0 }), T0 + 3 * DAY);
  });

  it('a certificate so short-lived it is due within a minute is an error', () => {
    const now = T0;
    const e = expectInvalid(() => checkNotDueAtIssuance({ notBefore: new Date(now), notAfter: new Date(now + MIN), now, domain: 'short.example' }), RENEWAL_DUE_AT_ISSUANCE);
    assert.equal(e.code, 'ERR_RENEWAL_DUE_AT_ISSUANCE');
    assert.deepEqual(e.data, {
      domain: 'short.example',
      reason: 'lifetimeTooShort',
      notBefore: new Date(now).toISOString(),
      notAfter: new Date(now + MIN).toISOString(),
      renewBy: new Date(now + 30_000).toISOString(),
      now: new Date(now).toISOString(),
      minIntervalMs: MIN,
    });
    assert.match(e.message, /short\.example is due for renewal right after issuance/);
  });

  it('expired, an ARI window already over, or a notBefore far in the past are errors too', () => {
    const now = T0 + 100 * DAY;
    assert.equal(expectInvalid(() => checkNotDueAtIssuance({ ...cert(90), now }), RENEWAL_DUE_AT_ISSUANCE).data.reason, 'expired');
    const ari = { start: new Date(T0 - 2 * HOUR), end: new Date(T0 - HOUR) };
    assert.equal(expectInvalid(() => checkNotDueAtIssuance({ ...cert(90), ari, now: T0 }), RENEWAL_DUE_AT_ISSUANCE).data.reason, 'ariWindowEnded');
    assert.equal(expectInvalid(() => checkNotDueAtIssuance({ ...cert(90, T0 - 61 * DAY), now: T0 }), RENEWAL_DUE_AT_ISSUANCE).data.reason, 'lifetimeTooShort');
  });

  it('minIntervalMs sets the bar: a 2-hour certificate passes the default minute, not a 2-hour minimum', () => {
    const c = { notBefore: new Date(T0), notAfter: new Date(T0 + 2 * HOUR) };
    assert.equal(checkNotDueAtIssuance({ ...c, now: T0 }), T0 + HOUR);
    assert.equal(expectInvalid(() => checkNotDueAtIssuance({ ...c, now: T0, minIntervalMs: 2 * HOUR }), RENEWAL_DUE_AT_ISSUANCE).data.minIntervalMs, 2 * HOUR);
  });
});

describe('retry ladder (certmagic async.go retryIntervals, maxRetryDuration 30 d)', () => {
  it("is certmagic's ladder", () => {
    assert.deepEqual(RETRY_LADDER_MS.map((ms) => ms / MIN), [1, 2, 2, 5, 10, 20, 20, 30, 30, 60, 180, 360]);
    assert.equal(MAX_RETRY_DURATION_MS, 30 * DAY);
    assert.equal(GAVE_UP_RETRY_MS, DAY);
    assert.equal(retryDelayMs(1), MIN);
    assert.equal(retryDelayMs(12), 6 * HOUR);
    assert.equal(retryDelayMs(500), 6 * HOUR);
  });

  it('the exact sequence of retry times without Retry-After', () => {
    let now = T0;
    const delays: number[] = [];
    for (let failures = 1; failures <= 15; failures++) {
      const d = nextRetry({ failures, firstFailureAt: T0, now });
      assert.ok('at' in d);
      delays.push((d.at - now) / MIN);
      now = d.at;
    }
    assert.deepEqual(delays, [1, 2, 2, 5, 10, 20, 20, 30, 30, 60, 180, 360, 360, 360, 360]);
    assert.equal(now - T0, 30 * HOUR); // 6 h of fast rungs, then 4 × 6 h
  });

  it('honours Retry-After: never earlier than the CA asked, the ladder when it is longer', () => {
    assert.deepEqual(nextRetry({ failures: 1, firstFailureAt: T0, now: T0, retryAfterMs: 10 * MIN }), { at: T0 + 10 * MIN });
    assert.deepEqual(nextRetry({ failures: 4, firstFailureAt: T0, now: T0, retryAfterMs: 30_000 }), { at: T0 + 5 * MIN });
    assert.deepEqual(nextRetry({ failures: 12, firstFailureAt: T0, now: T0, retryAfterMs: 2 * DAY }), { at: T0 + 2 * DAY });
    assert.deepEqual(nextRetry({ failures: 2, firstFailureAt: T0, now: T0, retryAfterMs: -5000 }), { at: T0 + 2 * MIN }); // a past HTTP-date
  });

  it('gives up 30 days after the first failure, not a millisecond before', () => {
    assert.deepEqual(nextRetry({ failures: 120, firstFailureAt: T0, now: T0 + 30 * DAY - 1 }), { at: T0 + 30 * DAY - 1 + 6 * HOUR });
    assert.deepEqual(nextRetry({ failures: 121, firstFailureAt: T0, now: T0 + 30 * DAY }), { giveUp: true });
    assert.deepEqual(nextRetry({ failures: 121, firstFailureAt: T0, now: T0 + 30 * DAY, retryAfterMs: HOUR }), { giveUp: true });
  });

  it('rejects a failure count below 1, non-integer, or non-finite times', () => {
    assert.equal(expectInvalid(() => nextRetry({ failures: 0, firstFailureAt: T0, now: T0 })).data.reason, 'badFailures');
    assert.equal(expectInvalid(() => nextRetry({ failures: 1.5, firstFailureAt: T0, now: T0 })).data.reason, 'badFailures');
    assert.equal(expectInvalid(() => nextRetry({ failures: 1, firstFailureAt: T0, now: Number.POSITIVE_INFINITY })).data.field, 'now');
    assert.equal(expectInvalid(() => nextRetry({ failures: 1, firstFailureAt: T0, now: T0, retryAfterMs: Number.NaN })).data.field, 'retryAfterMs');
  });
});
