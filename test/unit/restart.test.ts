/**
 * The pure supervisor rules: shouldRestart (supervisor.erl do_restart/3), RestartWindow (add_restart/1,3 with
 * explicit timestamps) and backoffMs bounds with an injected random source.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RestartWindow, backoffMs, isAbnormal, shouldRestart, type ExitReason, type Restart } from '../../src/runtime/restart.js';

const normal: ExitReason = { kind: 'normal' };
const shutdown: ExitReason = { kind: 'shutdown' };
const crash: ExitReason = { kind: 'crash', error: new Error('boom') };
const killed: ExitReason = { kind: 'killed', exitCode: 1 };

describe('shouldRestart', () => {
  const table: Array<[Restart, ExitReason, boolean]> = [
    ['permanent', normal, true],
    ['permanent', shutdown, true],
    ['permanent', crash, true],
    ['permanent', killed, true],
    ['transient', normal, false],
    ['transient', shutdown, false],
    ['transient', crash, true],
    ['transient', killed, true],
    ['temporary', normal, false],
    ['temporary', shutdown, false],
    ['temporary', crash, false],
    ['temporary', killed, false],
  ];
  for (const [restart, reason, expected] of table) {
    it(`${restart} + ${reason.kind} → ${expected ? 'restart' : 'no restart'}`, () => {
      assert.equal(shouldRestart(restart, reason), expected);
    });
  }

  it('only normal and shutdown are not abnormal', () => {
    assert.deepEqual([normal, shutdown, crash, killed, { kind: 'killed' } as ExitReason].map(isAbnormal), [false, false, true, true, true]);
  });
});

describe('RestartWindow (add_restart)', () => {
  it('OTP default intensity 1 / period 5000: a second restart within the period is exceeded', () => {
    const w = new RestartWindow(1, 5000);
    assert.equal(w.add(0), 'ok');
    assert.equal(w.add(4999), 'exceeded');
  });

  it('the threshold is inclusive (R >= Now - Period)', () => {
    const w = new RestartWindow(1, 5000);
    assert.equal(w.add(1000), 'ok');
    assert.equal(w.add(6000), 'exceeded'); // 1000 >= 6000 - 5000 is kept
    const w2 = new RestartWindow(1, 5000);
    assert.equal(w2.add(1000), 'ok');
    assert.equal(w2.add(6001), 'ok'); // 1000 < 1001 drops out
    assert.equal(w2.count, 1);
  });

  it('intensity 0 exceeds on the first restart', () => {
    assert.equal(new RestartWindow(0, 5000).add(0), 'exceeded');
  });

  it('intensity 3 / 60 s slides', () => {
    const w = new RestartWindow(3, 60_000);
    assert.deepEqual([0, 10_000, 20_000].map((t) => w.add(t)), ['ok', 'ok', 'ok']);
    assert.equal(w.add(30_000), 'exceeded');
    assert.equal(w.count, 4);
    // the timestamp of an exceeded add is kept, as OTP keeps R1; 90 001 drops 0..30 000
    assert.equal(w.add(90_001), 'ok');
    assert.equal(w.count, 1);
  });

  it('evenly spaced restarts just outside the period never exceed intensity 1', () => {
    const w = new RestartWindow(1, 5000);
    for (let i = 0; i < 20; i++) assert.equal(w.add(i * 5001), 'ok');
  });

  it('rejects nonsense parameters', () => {
    assert.throws(() => new RestartWindow(-1, 5000), RangeError);
    assert.throws(() => new RestartWindow(1.5, 5000), RangeError);
    assert.throws(() => new RestartWindow(1, 0), RangeError);
  });
});

describe('backoffMs', () => {
  const opts = { minMs: 1000, maxMs: 60_000, factor: 2 };

  it('attempt 0 is minMs whatever the jitter', () => {
    assert.equal(backoffMs(0, opts, () => 0), 1000);
    assert.equal(backoffMs(0, opts, () => 0.999), 1000);
  });

  it('is drawn from [minMs, min(maxMs, minMs*factor^attempt))', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(60_000, 1000 * 2 ** attempt);
      assert.equal(backoffMs(attempt, opts, () => 0), 1000, `floor at attempt ${attempt}`);
      const hi = backoffMs(attempt, opts, () => 0.999999);
      assert.ok(hi <= ceiling && hi >= Math.floor(ceiling * 0.999), `ceiling at attempt ${attempt}: ${hi} vs ${ceiling}`);
      assert.equal(backoffMs(attempt, opts, () => 0.5), Math.floor(1000 + 0.5 * (ceiling - 1000)));
    }
  });

  it('is capped for huge attempts and odd random values', () => {
    assert.equal(backoffMs(10_000, opts, () => 1), 60_000);
    assert.equal(backoffMs(10_000, opts, () => 2), 60_000);
    assert.equal(backoffMs(3, opts, () => -1), 1000);
    assert.equal(backoffMs(-5, opts, () => 0.5), 1000);
    assert.equal(backoffMs(10_000, { minMs: 0, maxMs: 100, factor: 2 }, () => 0.5), 0);
  });

  it('uses Math.random by default and stays in bounds', () => {
    for (let i = 0; i < 100; i++) {
      const d = backoffMs(4, opts);
      assert.ok(d >= 1000 && d < 16_000, String(d));
    }
  });
});
