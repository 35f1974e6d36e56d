/**
 * DH parameters: the PKCS#3 PEM is what openssl and Node's TLS accept, and a second call reuses the file.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { dhParamsPem, obtainDhParams } from '../../src/dh-params.js';

describe('dh-params', () => {
  it('generates a safe prime openssl checks, accepted by tls, then reuses it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leec-dh-'));
    try {
      const file = join(dir, 'dh-params.pem');
      const first = await obtainDhParams(file, 1024);
      assert.equal(first.created, true);
      const check = execFileSync('openssl', ['dhparam', '-in', file, '-check', '-noout', '-text'], { encoding: 'utf8' });
      assert.match(check, /DH Parameters: \(1024 bit\)/);
      assert.match(check, /G:\s+2 \(0x2\)|generator: 2 \(0x2\)/);
      createSecureContext({ dhparam: first.pem });
      const mtime = statSync(file).mtimeMs;
      const second = await obtainDhParams(file, 1024);
      assert.equal(second.created, false);
      assert.equal(second.pem, first.pem);
      assert.equal(statSync(file).mtimeMs, mtime);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('encodes INTEGERs as DER: a leading zero when the top bit is set', () => {
    const pem = dhParamsPem(0xffn, 2n);
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    assert.deepEqual([...der], [0x30, 0x07, 0x02, 0x02, 0x00, 0xff, 0x02, 0x01, 0x02]);
  });
});
