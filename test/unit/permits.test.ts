/**
 * Permits: at most `max` holders, the others served in the order they asked; a release passes the permit
 * to the next waiter; releasing twice frees one permit only; an abort gives up a place in the queue.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Permits } from '../../src/runtime/permits.js';
import { AbortedError } from '../../src/errors.js';
import { caught } from '../support/caught.js';

/** Lets every settled promise's callbacks run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Permits', () => {
  it('grants up to max at once, then serves waiters first come, first served', async () => {
    const p = new Permits(2, 'keygen');
    const order: number[] = [];
    const releases = new Map<number, () => void>();
    const ask = (n: number): Promise<void> => p.acquire().then((r) => {
      order.push(n);
      releases.set(n, r);
    });
    const all = [1, 2, 3, 4, 5].map(ask);
    await settle();
    assert.deepEqual(order, [1, 2]);
    assert.equal(p.held, 2);
    assert.equal(p.waiting, 3);
    releases.get(2)!();
    await settle();
    assert.deepEqual(order, [1, 2, 3], 'the first waiter, not the last');
    assert.equal(p.held, 2, 'the permit passed straight on');
    releases.get(1)!();
    releases.get(3)!();
    await settle();
    assert.deepEqual(order, [1, 2, 3, 4, 5]);
    releases.get(4)!();
    releases.get(5)!();
    await Promise.all(all);
    assert.equal(p.held, 0);
    assert.equal(p.waiting, 0);
  });

  it('a second release of one permit frees nothing more', async () => {
    const p = new Permits(1, 'keygen');
    const r1 = await p.acquire();
    r1();
    r1();
    assert.equal(p.held, 0);
    const r2 = await p.acquire();
    let third = false;
    void p.acquire().then(() => {
      third = true;
    });
    r1(); // stale: must not let the third in while r2 is held
    await settle();
    assert.equal(third, false);
    assert.equal(p.held, 1);
    r2();
    await settle();
    assert.equal(third, true);
  });

  it('an abort gives up the place in the queue with a typed error; an aborted signal is refused at once', async () => {
    const p = new Permits(1, 'keygen');
    const held = await p.acquire();
    const ac = new AbortController();
    const waiting = p.acquire(ac.signal);
    const after = p.acquire();
    assert.equal(p.waiting, 2);
    ac.abort();
    const e = await caught(waiting, AbortedError);
    assert.equal(e.code, 'ERR_ABORTED');
    assert.equal(e.step, 'keygen');
    assert.equal(p.waiting, 1);
    held();
    (await after)();
    assert.equal(p.held, 0);
    await caught(p.acquire(AbortSignal.abort()), AbortedError);
    assert.equal(p.held, 0);
  });

  it('refuses a max that is not a whole number >= 1', () => {
    for (const max of [0, -1, 1.5, Number.NaN]) assert.throws(() => new Permits(max, 'keygen'), RangeError);
  });
});
