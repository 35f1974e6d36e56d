/**
 * The store lock (one supervisor per store): two takers at the same moment, one wins; a lock file created
 * but not yet written is someone starting, not a stale lock; an empty one left by a crash is taken over.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockStore } from '../../src/store/store-lock.js';
import { ErrorCode, StoreError } from '../../src/errors.js';

describe('store lock', () => {
  let base: string;
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'leec-lock-'));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('two takers at once: exactly one gets it, the other is refused as locked (20 rounds)', async () => {
    for (let i = 0; i < 20; i++) {
      const root = join(base, `race-${i}`);
      const both = await Promise.allSettled([lockStore(root), lockStore(root)]);
      const won = both.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof lockStore>>> => r.status === 'fulfilled');
      const lost = both.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1, `round ${i}`);
      assert.ok(lost[0]!.reason instanceof StoreError && lost[0]!.reason.code === ErrorCode.storeLocked, String(lost[0]?.reason));
      await won[0]!.value.release();
    }
  });

  it('an empty lock file just created is someone starting: refused; one left empty for 5 s is a crash: taken over', async () => {
    const root = join(base, 'empty');
    const first = await lockStore(root);
    await first.release();
    const path = join(root, 'leec.lock');
    writeFileSync(path, '');
    await assert.rejects(lockStore(root), (e: unknown) => e instanceof StoreError && e.code === ErrorCode.storeLocked);
    const old = (Date.now() - 6_000) / 1000;
    utimesSync(path, old, old);
    const lock = await lockStore(root);
    assert.equal(readFileSync(path, 'utf8').trim(), String(process.pid));
    await lock.release();
  });
});
