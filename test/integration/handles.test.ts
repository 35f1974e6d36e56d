/**
 * After `shutdown()`, a supervisor leaves nothing behind: no timer, listener, socket or worker thread.
 * The process's active resources (process.getActiveResourcesInfo) go back to what they were before
 * `Supervisor.start`, after issuing with http-01, dns-01 and tls-alpn-01 through standalone responders.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../support/pebble-harness.js';
import { activeResources, settleResources } from '../support/active-resources.js';



describe('no handle left after shutdown', { timeout: 120_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  it('issues with every challenge, shuts down, and the active resources are back to the baseline', async () => {
    await settleResources();
    const baseline = activeResources();
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
    const during = activeResources();
    assert.ok((during['TCPServerWrap'] ?? 0) >= (baseline['TCPServerWrap'] ?? 0) + 2, `two responders listening: ${JSON.stringify(during)}`);
    await sup.shutdown();
    await settleResources();
    assert.deepEqual(activeResources(), baseline);
  });
});
