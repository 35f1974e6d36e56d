/**
 * The time source of the runtime: `now()` plus one-shot timers. Injected everywhere a supervisor or
 * scheduler waits, so tests drive time with a fake clock and never sleep.
 */

export interface Clock {
  /** Milliseconds since the epoch (wall time, so callers may compare it with certificate dates). */
  now(): number;
  /** Runs `fn` once after `ms`; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process clock: `Date.now()` and Node's timers. */
export const realClock: Clock = Object.freeze({
  now: (): number => Date.now(),
  setTimeout: (fn: () => void, ms: number): unknown => setTimeout(fn, ms),
  clearTimeout: (handle: unknown): void => clearTimeout(handle as NodeJS.Timeout | undefined),
});
