/**
 * Free loopback ports for fixtures: bindable, below the kernel's ephemeral range (where outgoing
 * connections take their local ports), distinct when asked for several, and with UDP too when asked.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { freePort, freePorts } from '../../src/net/free-port.js';

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port }, () => resolve(srv));
  });
}

describe('freePort', () => {
  it('gives a bindable port below the ephemeral range', { skip: !existsSync('/proc/sys/net/ipv4/ip_local_port_range') }, async () => {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    for (let i = 0; i < 10; i++) {
      const port = await freePort();
      assert.ok(port >= 1024 && port < low, `port ${port} is below ${low}`);
      const srv = await listen(port);
      await new Promise((r) => srv.close(r));
    }
  });

  it('gives distinct ports, TCP and UDP, when asked for several', async () => {
    const ports = await freePorts(8, '127.0.0.1', { udp: true });
    assert.equal(new Set(ports).size, 8);
  });
});
