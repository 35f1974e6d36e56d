/**
 * After `shutdown()`, a supervisor leaves nothing behind: no timer, listener, socket or worker thread.
 * The process's active resources (process.getActiveResourcesInfo) go back to what they were before
 * `Supervisor.start`, after issuing with http-01, dns-01 and tls-alpn-01 through standalone responders.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../support/pebble-harness.js';

/** Active resources by type, e.g. { Timeout: 1, TCPSocketWrap: 2 }. */
function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

async function settle(): Promise<void> {
  // Closed sockets and finished timers leave the list on the next turns of the event loop.
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 50));
}

describe('no handle left after shutdown', { timeout: 120_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  it('issues with every challenge, shuts down, and the active resources are back to the baseline', async () => {
    await settle();
    const baseline = resources();
    const sup = await h.supervisor({
      tlsAlpn01: { mode: 'standalone', port: h.pebble.tlsPort },
      dns01: {
        provider: { name: 'challtestsrv', options: { url: h.pebble.challtestsrvUrl } },
        propagation: { servers: [h.pebble.dnsAddress], timeoutMs: 10_000, intervalMs: 100 },
      },
    });
    const results = await Promise.all([
      sup.obtainCertificate('handles-http.example.test'),
      sup.obtainCertificate('handles-dns.example.test', { sans: ['*.handles-dns.example.test'], challenge: 'dns-01' }),
      sup.obtainCertificate('handles-alpn.example.test', { challenge: 'tls-alpn-01' }),
    ]);
    assert.deepEqual(results.map((r) => r.reused), [false, false, false]);
    const during = resources();
    assert.ok((during['TCPServerWrap'] ?? 0) >= (baseline['TCPServerWrap'] ?? 0) + 2, `two responders listening: ${JSON.stringify(during)}`);
    await sup.shutdown();
    await settle();
    assert.deepEqual(resources(), baseline);
  });
});
