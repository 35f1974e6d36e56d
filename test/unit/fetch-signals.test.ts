/**
 * FetchSignals: what the CA's validator fetched, remembered from `expect` to `forget`, so an agent's first
 * authorization poll can follow the fetch. Waits resolve (never reject) and leave no timer behind.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FetchSignals, fetchKey } from '../../src/fetch-signals.js';

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('FetchSignals', () => {
  it('keys http-01 by token and tls-alpn-01 by host, case-insensitively', () => {
    assert.equal(fetchKey({ type: 'http-01', host: 'a.test', token: 'tok' }), 'http-01 tok');
    assert.equal(fetchKey({ type: 'http-01', host: 'b.test', token: 'tok' }), 'http-01 tok');
    assert.equal(fetchKey({ type: 'tls-alpn-01', host: 'A.Test', token: 'x' }), 'tls-alpn-01 a.test');
    assert.notEqual(fetchKey({ type: 'tls-alpn-01', host: 'a.test' }), fetchKey({ type: 'tls-alpn-01', host: 'b.test' }));
  });

  it('a fetch before the wait (the CA was quicker than its own answer) resolves the wait at once with true', async () => {
    const s = new FetchSignals();
    s.expect('k');
    s.fetched('k');
    const base = timers();
    assert.equal(await s.wait('k', 60_000), true);
    assert.equal(timers(), base);
  });

  it('a fetch during the wait resolves it with true and clears its timer', async () => {
    const s = new FetchSignals();
    s.expect('k');
    const base = timers();
    const w = s.wait('k', 60_000);
    assert.equal(timers(), base + 1);
    s.fetched('k');
    assert.equal(await w, true);
    assert.equal(timers(), base);
  });

  it('no fetch within the time: false; a key never expected or already withdrawn: false at once', async () => {
    const s = new FetchSignals();
    s.expect('k');
    assert.equal(await s.wait('k', 5), false);
    assert.equal(await s.wait('other', 60_000), false);
    s.fetched('other'); // unknown: ignored, not remembered
    assert.equal(s.size, 1);
    s.forget('k');
    assert.equal(await s.wait('k', 60_000), false);
    assert.equal(s.size, 0);
  });

  it('withdrawing a response ends its waits with false and forgets it', async () => {
    const s = new FetchSignals();
    s.expect('k');
    const base = timers();
    const waits = [s.wait('k', 60_000), s.wait('k', 60_000)];
    s.forget('k');
    assert.deepEqual(await Promise.all(waits), [false, false]);
    assert.equal(timers(), base);
    s.fetched('k');
    assert.equal(await s.wait('k', 1), false);
  });
});
