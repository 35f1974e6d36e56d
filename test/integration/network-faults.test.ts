/**
 * Faults from the network, against a real Pebble behind a TCP fault proxy. The supervisor's directory URL
 * is the proxy's (`https://127.0.0.1:PROXY/dir`); TLS passes through untouched and still verifies
 * (Pebble's certificate has IP SAN 127.0.0.1), and Pebble builds every URL it hands out (directory,
 * orders, authorizations, certificates) from the request's Host header, so all ACME traffic of the
 * supervisor and its agents goes through the proxy. Checked first below.
 *
 * Connection resets mid-response are survived by the bounded retries; a stall past the timeout and a
 * refused connection end in a typed ERR_ACME_TRANSPORT after the bounded retries, and the supervisor
 * serves the next request once the network is back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ErrorCode, LeecError } from '../../src/errors.js';
import type { Supervisor } from '../../src/supervisor.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { opensslVerify, sanNames, startHarness, type Harness } from '../support/pebble-harness.js';

function getJson(url: string, ca: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
      })
      .on('error', reject);
  });
}

async function rejection(p: Promise<unknown>): Promise<LeecError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof LeecError, `expected a LeecError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('network faults between the agents and Pebble', { timeout: 180_000 }, () => {
  let h: Harness;
  let proxy: FaultProxy;
  let directoryUrl: string;
  before(async () => {
    h = await startHarness();
    const pebble = new URL(h.pebble.directoryUrl);
    proxy = await FaultProxy.start({ target: { host: pebble.hostname, port: Number(pebble.port) } });
    directoryUrl = proxy.url('https', '/dir');
  });
  after(async () => {
    await h.close();
    await proxy.close();
  });

  it('Pebble lists the proxy’s own origin in the directory fetched through it', async () => {
    const dir = await getJson(directoryUrl, h.pebble.caPem);
    for (const k of ['newNonce', 'newAccount', 'newOrder']) {
      assert.equal(new URL(String(dir[k])).origin, `https://127.0.0.1:${proxy.port}`, `${k}: ${String(dir[k])}`);
    }
  });

  it('ten domains in parallel while every 5th connection is reset mid-response: all ten issued', async (t) => {
    const sup = await h.supervisor({ directoryUrl, maxConcurrentAgents: 10 });
    const conns = proxy.stats.connections;
    const resets = proxy.stats.resets;
    proxy.choose = (i) => (i % 5 === 4 ? 'reset-mid-response' : undefined);
    try {
      const domains = Array.from({ length: 10 }, (_, i) => `flaky-${i}.example.test`);
      const t0 = performance.now();
      const results = await Promise.all(domains.map((d) => sup.obtainCertificate(d)));
      const took = performance.now() - t0;
      assert.deepEqual(results.map((r) => r.domain), domains);
      for (const r of results) {
        const leaf = readFileSync(r.paths.cert, 'utf8');
        assert.deepEqual(sanNames(leaf), [r.domain]);
        assert.match(opensslVerify(h.rootPem, readFileSync(r.paths.chain, 'utf8'), leaf), /: OK$/);
      }
      const made = proxy.stats.connections - conns;
      const reset = proxy.stats.resets - resets;
      assert.ok(reset > 0, `no connection was reset (${made} connections)`);
      t.diagnostic(`10 certificates through ${made} connections, ${reset} reset mid-response, ${Math.round(took)} ms`);
    } finally {
      proxy.choose = undefined;
      await sup.shutdown(); // frees the http-01 port for the next supervisor
    }
  });

  describe('with httpTimeoutMs 500', () => {
    let sup: Supervisor;
    before(async () => {
      sup = await h.supervisor({ directoryUrl, httpTimeoutMs: 500 });
    });

    it('a stall on every connection: typed ERR_ACME_TRANSPORT after the bounded retries; then recovery', async (t) => {
      proxy.dropConnections();
      await proxy.setMode('stall');
      const stalls = proxy.stats.stall;
      const t0 = performance.now();
      try {
        const err = await rejection(sup.obtainCertificate('stalled.example.test'));
        const took = performance.now() - t0;
        assert.equal(err.code, ErrorCode.transport, err.message);
        assert.equal(err.step, 'newOrder');
        assert.equal(err.data.attempts, 4);
        assert.equal(err.data.cause, 'ETIMEDOUT');
        assert.equal(proxy.stats.stall - stalls, 4, 'one stalled connection per attempt');
        // 4 x 500 ms timeouts + 250 + 1000 + 2000 ms of backoff, plus the agent's start.
        assert.ok(took >= 4 * 500 + 3250 - 50 && took < 15_000, `took ${took} ms`);
        t.diagnostic(`stall: ${String(err.data.attempts)} attempts, typed error after ${Math.round(took)} ms`);
      } finally {
        await proxy.setMode('pass');
      }
      const r = await sup.obtainCertificate('after-stall.example.test');
      assert.deepEqual(sanNames(readFileSync(r.paths.cert, 'utf8')), ['after-stall.example.test']);
    });

    it('connection refused: typed ERR_ACME_TRANSPORT after the bounded retries; then recovery', async (t) => {
      await proxy.setMode('refuse');
      const t0 = performance.now();
      try {
        const err = await rejection(sup.obtainCertificate('refused.example.test'));
        const took = performance.now() - t0;
        assert.equal(err.code, ErrorCode.transport, err.message);
        assert.equal(err.step, 'newOrder');
        assert.equal(err.data.attempts, 4);
        assert.equal(err.data.cause, 'ECONNREFUSED');
        assert.ok(took >= 3250 - 50 && took < 15_000, `took ${took} ms`);
        t.diagnostic(`refused: ${String(err.data.attempts)} attempts, typed error after ${Math.round(took)} ms`);
      } finally {
        await proxy.setMode('pass');
      }
      const r = await sup.obtainCertificate('after-refused.example.test');
      assert.deepEqual(sanNames(readFileSync(r.paths.cert, 'utf8')), ['after-refused.example.test']);
    });
  });
});
