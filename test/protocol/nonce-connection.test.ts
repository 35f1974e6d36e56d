/**
 * Fetching nonces keeps the connection to the CA (RFC 8555 §7.2), against a real Pebble over HTTPS.
 *
 * Node's HTTP client drops a keep-alive connection after a HEAD response without Content-Length, as
 * Pebble's HEAD newNonce is: a client that fetched nonces with HEAD paid a new TCP connection and TLS
 * handshake after each one. NoncePool fetches with GET (204), which §7.2 requires a CA to answer too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fetchDirectory } from '../../src/acme/directory.js';
import { NoncePool } from '../../src/acme/nonce-pool.js';
import { HttpTransport } from '../../src/acme/transport.js';
import { startPebble, type PebbleInstance } from '../../src/pebble/pebble-server.js';
import { freePort } from '../../src/net/free-port.js';
import { FaultProxy } from '../support/fault-proxy.js';

describe('newNonce over one keep-alive connection (Pebble)', () => {
  let pebble: PebbleInstance;
  let proxy: FaultProxy;
  before(async () => {
    pebble = await startPebble({ httpPort: await freePort() });
    // A TCP pass-through in front of Pebble counts the connections (TLS goes through it untouched).
    proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: Number(new URL(pebble.directoryUrl).port) } });
  });
  after(async () => {
    await proxy?.close();
    await pebble?.stop();
  });

  it('five nonce fetches in a row: five distinct nonces, one TLS connection', { timeout: 30_000 }, async () => {
    const transport = new HttpTransport({ caPem: pebble.caPem, timeoutMs: 10_000 });
    try {
      const directory = await fetchDirectory(transport, pebble.directoryUrl);
      const viaProxy = new URL(directory.newNonce);
      viaProxy.port = String(proxy.port);
      const pool = new NoncePool(transport, viaProxy.href);
      const counted = { requests: 0 };
      const nonces: string[] = [];
      for (let i = 0; i < 5; i++) nonces.push(await pool.take({ count: counted }));
      assert.equal(new Set(nonces).size, 5, 'every nonce is new');
      assert.equal(counted.requests, 5, 'an empty pool fetches once per take');
      assert.equal(proxy.stats.connections, 1, `connections opened by five nonce fetches: ${proxy.stats.connections}`);
    } finally {
      transport.close();
    }
  });
});
