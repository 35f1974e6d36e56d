/**
 * TokenBucket: a sliding log that allows at most `count` events in ANY window of `windowMs`, checked on
 * random streams against a brute-force count, with exact next-available times.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket, validateWindowLimit } from '../../src/lifecycle/token-bucket.js';
import { ErrorCode, InvalidInputError } from '../../src/errors.js';
import { FakeClock } from '../support/fake-clock.js';
import { maxInAnyWindow, seeded } from '../support/simulation.js';



/** Events e with t - w < e <= t. */
function inWindowAt(times: number[], t: number, w: number): number {
  return times.filter((e) => e > t - w && e <= t).length;
}

/** Brute force: the earliest t >= now at which n more events fit, given the recorded events and `held`. */
function bruteNextAvailable(times: number[], now: number, w: number, cap: number, held: number, n: number): number | undefined {
  if (cap - held - n < 0) return undefined;
  const candidates = [now, ...times.map((e) => e + w)].filter((t) => t >= now).sort((a, b) => a - b);
  return candidates.find((t) => inWindowAt(times, t, w) + held + n <= cap);
}

describe('TokenBucket', () => {
  it('refuses bad limits and bad token counts with ERR_INVALID_OPTION at step input', () => {
    const clock = new FakeClock();
    for (const limit of [{ count: 0, windowMs: 1000 }, { count: -1, windowMs: 1000 }, { count: 1.5, windowMs: 1000 }, { count: 1, windowMs: 0 }, { count: 1, windowMs: -5 }, { count: 1, windowMs: Number.NaN }, { count: 1, windowMs: Infinity }]) {
      assert.throws(() => new TokenBucket(clock, limit), (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidOption && e.step === 'input');
    }
    assert.throws(() => validateWindowLimit('limits.x', null), (e: unknown) => e instanceof InvalidInputError && e.data['option'] === 'limits.x');
    const b = new TokenBucket(clock, { count: 3, windowMs: 1000 });
    for (const n of [0, -1, 1.5, 4]) {
      assert.throws(() => b.tryTake(n), (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidOption);
    }
    assert.throws(() => b.refund(1), InvalidInputError); // nothing held
  });

  it('allows count events, then the next one exactly windowMs after the oldest', () => {
    const clock = new FakeClock(10_000);
    const b = new TokenBucket(clock, { count: 3, windowMs: 1000 });
    assert.equal(b.tryTake(), true);
    clock.advance(100);
    assert.equal(b.tryTake(2), true);
    assert.equal(b.available(), 0);
    assert.equal(b.tryTake(), false);
    assert.equal(b.nextAvailableAt(1), 11_000);
    assert.equal(b.nextAvailableAt(2), 11_100);
    assert.equal(b.nextAvailableAt(3), 11_100);
    clock.advance(899); // 10_999
    assert.equal(b.tryTake(), false);
    clock.advance(1); // 11_000: the first event leaves the window
    assert.equal(b.nextAvailableAt(1), 11_000);
    assert.equal(b.tryTake(), true);
    assert.equal(b.tryTake(), false);
    assert.equal(b.nextAvailableAt(1), 11_100);
  });

  it('is not a continuously refilling bucket: N at t and N more before t + W is refused', () => {
    const clock = new FakeClock();
    const b = new TokenBucket(clock, { count: 10, windowMs: 1000 });
    assert.equal(b.tryTake(10), true);
    clock.advance(999);
    // A classic bucket (10 per 1000 ms, continuous refill) would have about 10 tokens again here.
    assert.equal(b.tryTake(), false);
    clock.advance(1);
    assert.equal(b.tryTake(10), true);
  });

  it('random streams: no window of windowMs ever holds more than count, and every refusal was necessary', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = seeded(seed);
      const cap = 1 + Math.floor(rnd() * 8);
      const w = 1 + Math.floor(rnd() * 500);
      const clock = new FakeClock(Math.floor(rnd() * 1e6));
      const b = new TokenBucket(clock, { count: cap, windowMs: w });
      const taken: number[] = [];
      for (let i = 0; i < 600; i++) {
        // Bursts (same millisecond), short gaps and long gaps.
        const r = rnd();
        clock.advance(r < 0.4 ? 0 : r < 0.8 ? Math.floor(rnd() * (w / 4 + 1)) : Math.floor(rnd() * 2 * w));
        const n = 1 + Math.floor(rnd() * Math.min(3, cap));
        const now = clock.now();
        const expected = bruteNextAvailable(taken, now, w, cap, 0, n);
        assert.equal(b.nextAvailableAt(n), expected, `seed ${seed}: nextAvailableAt(${n}) at ${now}`);
        const ok = b.tryTake(n);
        // Maximal: refused exactly when the window ending now is too full.
        assert.equal(ok, inWindowAt(taken, now, w) + n <= cap, `seed ${seed}: decision at ${now}`);
        if (ok) for (let k = 0; k < n; k++) taken.push(now);
        assert.ok(b.inWindow() <= cap);
      }
      assert.ok(maxInAnyWindow(taken, w) <= cap, `seed ${seed}: a window holds ${maxInAnyWindow(taken, w)} > ${cap}`);
      assert.ok(taken.length > cap, 'the stream was busy enough to hit the limit');
    }
  });

  it('held reservations count as used; commit records the event at commit time, refund frees it', () => {
    const clock = new FakeClock();
    const b = new TokenBucket(clock, { count: 2, windowMs: 1000 });
    assert.equal(b.reserve(), true);
    assert.equal(b.reserve(), true);
    assert.equal(b.held, 2);
    assert.equal(b.reserve(), false);
    assert.equal(b.nextAvailableAt(1), undefined); // only a release can free a token
    clock.advance(300);
    b.commit(); // the event is at 300, not at the reservation time
    assert.equal(b.nextAvailableAt(1), 1300);
    assert.equal(b.nextAvailableAt(2), undefined); // the second token is still held
    b.refund();
    assert.equal(b.available(), 1);
    assert.equal(b.tryTake(), true);
    assert.equal(b.nextAvailableAt(1), 1300);
    clock.advance(999);
    assert.equal(b.available(), 0);
    clock.advance(1); // 1300: both events of 300 leave the window
    assert.equal(b.available(), 2);
    assert.equal(b.isIdle(), true);
    b.reserve();
    assert.equal(b.isIdle(), false);
  });

  it('record() counts events that already happened, beyond capacity too, and the bucket waits them out', () => {
    const clock = new FakeClock();
    const b = new TokenBucket(clock, { count: 2, windowMs: 1000 });
    const times: number[] = [];
    for (const t of [0, 100, 200, 300]) {
      clock.advance(t - clock.now());
      b.record();
      times.push(t);
    }
    assert.equal(b.available(), 0);
    // Room for one needs at most one event in the window: the third (200) must leave, at 1200.
    assert.equal(b.nextAvailableAt(1), bruteNextAvailable(times, 300, 1000, 2, 0, 1));
    assert.equal(b.nextAvailableAt(1), 1200);
    assert.equal(b.nextAvailableAt(2), 1300);
  });

  it('projectedAt: queued takers use free tokens, then expiring ones, then recycled ones one window later', () => {
    const clock = new FakeClock();
    const b = new TokenBucket(clock, { count: 3, windowMs: 1000 });
    b.tryTake(); // event at 0
    clock.advance(200);
    b.reserve(); // held since 200
    // Free now: 1 token. Then the event at 0 expires at 1000; the held one, if committed now, at 1200.
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((p) => b.projectedAt(p, 'commit')), [200, 1000, 1200, 1200, 2000, 2200, 2200]);
    // If the held token is refunded now it is free at once.
    assert.deepEqual([1, 2, 3].map((p) => b.projectedAt(p, 'refund')), [200, 200, 1000]);
  });

  it('keeps memory bounded: a long busy life holds at most `count` events', () => {
    const clock = new FakeClock();
    const b = new TokenBucket(clock, { count: 5, windowMs: 10 });
    for (let i = 0; i < 100_000; i++) {
      b.tryTake();
      b.record();
      clock.advance(1);
    }
    assert.ok(b.inWindow() <= 5);
    // One event per millisecond is in the window (the recorded ones): room for one once the window ending
    // then holds 4, that is when the event of now - 5 leaves it.
    assert.equal(b.nextAvailableAt(1), clock.now() + 5);
  });
});
