/**
 * Awaits a rejection of class `cls` and returns the error, for assertions on its fields.
 */
import assert from 'node:assert/strict';

export async function caught<E extends Error>(p: Promise<unknown>, cls: new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return e;
  }
  assert.fail(`expected ${cls.name}, but the promise resolved`);
}
