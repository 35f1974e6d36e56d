/**
 * DH parameters: the PKCS#3 PEM is what openssl and Node's TLS accept, and a second call reuses the file.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { dhParamsPem, dhPrimeBits, obtainDhParams } from '../../src/dh-params.js';
import { ErrorCode } from '../../src/errors.js';

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

  it('a file of another size is regenerated at the size asked for; a file that is not DH parameters is refused, untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leec-dh-'));
    try {
      const file = join(dir, 'dh.pem');
      const small = await obtainDhParams(file, 1024);
      assert.equal(dhPrimeBits(small.pem), 1024);
      const bigger = await obtainDhParams(file, 1536);
      assert.equal(bigger.created, true);
      assert.equal(dhPrimeBits(readFileSync(file, 'utf8')), 1536);
      assert.match(execFileSync('openssl', ['dhparam', '-in', file, '-noout', '-text'], { encoding: 'utf8' }), /DH Parameters: \(1536 bit\)/);

      const garbage = join(dir, 'garbage.pem');
      writeFileSync(garbage, 'garbage\n');
      await assert.rejects(obtainDhParams(garbage, 1024), { code: ErrorCode.invalidOption, step: 'input' });
      assert.equal(readFileSync(garbage, 'utf8'), 'garbage\n');
      await assert.rejects(obtainDhParams(join(dir, 'no', 'such', 'dir.pem'), 1024), { code: ErrorCode.invalidOption });
      await assert.rejects(obtainDhParams(dir, 1024), { code: ErrorCode.invalidOption }); // a directory
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
