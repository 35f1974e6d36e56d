/**
 * An IPv6 identifier (RFC 8738) end to end against Pebble with http-01: the responder listens on `::`
 * (IPv4 and IPv6), Pebble's validator connects to `[::1]:<port>` for the IP identifier and to 127.0.0.1
 * for the DNS name, and the leaf carries an iPAddress SAN in canonical form.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startHarness, opensslVerify, type Harness } from '../support/pebble-harness.js';
import type { Supervisor } from '../../src/supervisor.js';

describe('IPv6 identifier against Pebble', () => {
  let h: Harness;
  let sup: Supervisor;
  const served: string[] = [];
  before(async () => {
    h = await startHarness();
    sup = await h.supervisor({ http01: { mode: 'standalone', port: h.httpPort, host: '::' } });
    sup.on('challenge:served', (e) => served.push(e.host));
  });
  after(async () => h.close());

  it('issues for [::1] written in a non-canonical form, with a DNS name beside it', async () => {
    const r = await sup.obtainCertificate('[0:0:0:0:0:0:0:1]', { sans: ['v6.example.test'] });
    assert.deepEqual(r.names, ['::1', 'v6.example.test'], 'the IP is sent in RFC 5952 form, brackets removed');
    const leaf = readFileSync(r.paths.cert, 'utf8');
    const san = (new X509Certificate(leaf).subjectAltName ?? '').split(', ').sort();
    assert.deepEqual(san, ['DNS:v6.example.test', 'IP Address:0:0:0:0:0:0:0:1']);
    assert.match(opensslVerify(h.rootPem, readFileSync(r.paths.chain, 'utf8'), leaf), /: OK$/);
    assert.equal(r.challengesAnswered, 2);
    // Pebble's validator asked the responder for both: the IP over IPv6 (Host: [::1]:port) and the name.
    assert.ok(served.includes('::1'), `served hosts: ${served.join(', ')}`);
    assert.ok(served.includes('v6.example.test'), `served hosts: ${served.join(', ')}`);
  });
});
