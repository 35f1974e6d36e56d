/**
 * The first authorization poll follows the validator's fetch (RFC 8555 §7.5.1): the supervisor's own
 * responder sees Pebble fetch the http-01 token, and the agent, on its worker thread, polls a moment
 * later instead of after `pollInitialMs`. With `pollInitialMs` at 20 s, an agent that waited for its
 * timer could not see its authorization valid sooner than 20 s after answering the challenge.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startHarness, type Harness } from '../support/pebble-harness.js';
import type { Supervisor } from '../../src/supervisor.js';

const INITIAL_MS = 20_000;

/** Per domain: when the CA fetched the token, and when the agent reported every authorization valid. */
function watch(sup: Supervisor, domain: string): { served: number[]; valid: number[] } {
  const w = { served: [] as number[], valid: [] as number[] };
  sup.on('challenge:served', (e) => {
    if (e.host === domain) w.served.push(Date.now());
  });
  sup.on('state', (e) => {
    if (e.domain === domain && e.state === 'valid') w.valid.push(Date.now());
  });
  return w;
}

function assertPolledAfterFetch(w: { served: number[]; valid: number[] }): void {
  assert.ok(w.served.length >= 1, 'Pebble fetched the token from leec’s responder');
  assert.equal(w.valid.length, 1);
  const sinceFetch = w.valid[0]! - w.served[0]!;
  assert.ok(sinceFetch >= 0, 'valid is reported after the fetch');
  assert.ok(sinceFetch < INITIAL_MS / 2, `valid ${sinceFetch} ms after the fetch: the first poll waited for its ${INITIAL_MS} ms timer`);
}

describe('authorization polling after the validator’s fetch (Pebble, agents on worker threads)', () => {
  let h: Harness;
  let sup: Supervisor;
  before(async () => {
    h = await startHarness();
    sup = await h.supervisor({ pollInitialMs: INITIAL_MS });
  });
  after(async () => h.close());

  it('standalone http-01 responder: the authorization is polled right after Pebble fetched the token', { timeout: 60_000 }, async () => {
    const w = watch(sup, 'fetch-standalone.example.test');
    const r = await sup.obtainCertificate('fetch-standalone.example.test');
    assert.equal(r.reused, false);
    assertPolledAfterFetch(w);
  });

  it('two names, two tokens: each authorization follows its own fetch', { timeout: 60_000 }, async () => {
    const served: string[] = [];
    sup.on('challenge:served', (e) => served.push(e.host));
    const states: Array<[string, number]> = [];
    sup.on('state', (e) => states.push([e.state, Date.now()]));
    const started = Date.now();
    const r = await sup.obtainCertificate('fetch-two.example.test', { sans: ['www.fetch-two.example.test'] });
    assert.equal(r.challengesAnswered, 2);
    assert.deepEqual([...new Set(served)].sort(), ['fetch-two.example.test', 'www.fetch-two.example.test']);
    const valid = states.find(([s]) => s === 'valid')![1];
    assert.ok(valid - started < INITIAL_MS / 2, `both authorizations valid ${valid - started} ms after the call`);
  });
});

describe('authorization polling after the validator’s fetch: http-01 mounted in the user’s own server', () => {
  let h: Harness;
  let server: http.Server;
  let sup: Supervisor;
  before(async () => {
    h = await startHarness();
    sup = await h.supervisor({ http01: { mode: 'embedded' }, pollInitialMs: INITIAL_MS });
    server = http.createServer(sup.http01.listener);
    await new Promise<void>((resolve) => server.listen(h.httpPort, '127.0.0.1', resolve));
    assert.equal((server.address() as AddressInfo).port, h.httpPort);
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await h.close();
  });

  it('the embedded listener signals the fetch as the standalone one does', { timeout: 60_000 }, async () => {
    const w = watch(sup, 'fetch-embedded.example.test');
    const r = await sup.obtainCertificate('fetch-embedded.example.test');
    assert.equal(r.reused, false);
    assertPolledAfterFetch(w);
  });
});
