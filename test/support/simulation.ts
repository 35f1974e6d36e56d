/**
 * Helpers of the fake-clock simulations (scheduler, gate, and both together): a seeded PRNG, a turn of
 * the event loop, running a FakeClock timer by timer, and counting events in sliding windows.
 */
import type { FakeClock } from './fake-clock.js';

/** A small seeded PRNG (mulberry32): uniform in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lets pending promise callbacks run (one macrotask). */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Advances the clock timer by timer up to `end`, letting promise callbacks settle after each one. */
export async function runUntil(clock: FakeClock, end: number, each?: () => void): Promise<void> {
  for (;;) {
    const next = clock.pending()[0];
    if (next === undefined || clock.now() + next > end) break;
    clock.advance(next);
    await flush();
    each?.();
  }
  clock.advance(end - clock.now());
  await flush();
}

/** The largest number of events in any window [s, s + w). */
export function maxInAnyWindow(unsorted: readonly number[], w: number): number {
  const times = [...unsorted].sort((a, b) => a - b);
  let best = 0;
  let j = 0;
  for (let i = 0; i < times.length; i++) {
    while (times[j]! <= times[i]! - w) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}
