/**
 * A CA rate limit, "at most `count` events in any window of `windowMs`", kept as a sliding log.
 *
 * Why not a classic token bucket: one that refills continuously (capacity N, N per W) lets N through at t
 * and then, as it refills, up to N - 1 more before t + W, so some window of length W sees almost 2N events.
 * The simulation of the supervisor asserts the stronger property, so this bucket is a sliding log: every
 * token comes back exactly `windowMs` after the event that used it. It keeps the times of the last
 * `count` events only (older ones can never decide anything), so memory is O(count) per key, and every
 * question is O(1) amortized.
 *
 * The guarantee: for every window [s, s + windowMs), the events recorded through `tryTake`, `reserve` +
 * `commit` number at most `count`. Two events at e1 <= e2 share a window exactly when e2 - e1 < windowMs,
 * so an event at t is allowed when fewer than `count` (minus the held reservations) events lie in
 * (t - windowMs, t]. A stream that passes this log also passes Let's Encrypt's own token bucket (capacity N,
 * refilling N per W: https://letsencrypt.org/docs/rate-limits/ "How Our Rate Limits Work"), which is the
 * weaker of the two.
 *
 * Reservations: the gate holds a token while a job runs (`reserve`), and turns it into an event when the
 * job ends (`commit`, at that time, which is never earlier than the CA's own count) or gives it back
 * (`refund`). A held token counts as used in every window until then.
 */
import type { Clock } from '../runtime/clock.js';
import { ErrorCode, InvalidInputError } from '../errors.js';

/** "At most `count` events in any window of `windowMs` milliseconds". */
export interface WindowLimit {
  readonly count: number;
  readonly windowMs: number;
}

/** Checks one limit: `count` a whole number >= 1, `windowMs` a finite number > 0. `option` names it in the error. */
export function validateWindowLimit(option: string, limit: unknown): WindowLimit {
  if (typeof limit !== 'object' || limit === null) {
    throw new InvalidInputError(ErrorCode.invalidOption, `${option} must be { count, windowMs } or undefined`, { step: 'input', data: { option } });
  }
  const extra = Object.keys(limit).filter((k) => k !== 'count' && k !== 'windowMs');
  if (extra.length > 0) {
    throw new InvalidInputError(ErrorCode.invalidOption, `${option} has unknown field ${extra.join(', ')}: it takes { count, windowMs }`, { step: 'input', data: { option: `${option}.${extra[0]!}` } });
  }
  const { count, windowMs } = limit as { count?: unknown; windowMs?: unknown };
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1) {
    throw new InvalidInputError(ErrorCode.invalidOption, `${option}.count must be a whole number >= 1, got ${String(count)}`, {
      step: 'input',
      data: { option: `${option}.count` },
    });
  }
  if (typeof windowMs !== 'number' || !Number.isFinite(windowMs) || windowMs <= 0) {
    throw new InvalidInputError(ErrorCode.invalidOption, `${option}.windowMs must be a number of milliseconds > 0, got ${String(windowMs)}`, {
      step: 'input',
      data: { option: `${option}.windowMs` },
    });
  }
  return { count, windowMs };
}

/** What the held tokens are assumed to do in a projection: be committed now, or be refunded now. */
export type HeldAssumption = 'commit' | 'refund';

export class TokenBucket {
  readonly capacity: number;
  readonly windowMs: number;
  readonly #clock: Clock;
  /** Event times, non-decreasing; the live part starts at #head and holds at most `capacity` entries. */
  #times: number[] = [];
  #head = 0;
  #held = 0;

  constructor(clock: Clock, limit: WindowLimit) {
    const { count, windowMs } = validateWindowLimit('limit', limit);
    this.#clock = clock;
    this.capacity = count;
    this.windowMs = windowMs;
  }

  /** Tokens held by reservations (running jobs). */
  get held(): number {
    return this.#held;
  }

  /** Events still inside the window ending now (at most `capacity`). */
  inWindow(): number {
    this.#prune(this.#clock.now());
    return this.#times.length - this.#head;
  }

  /** Tokens that may be taken now. */
  available(): number {
    return Math.max(0, this.capacity - this.#held - this.inWindow());
  }

  /** Takes `n` tokens now if they are all there (recording `n` events at the current time). */
  tryTake(n = 1): boolean {
    this.#checkCount(n);
    if (this.available() < n) return false;
    this.#push(n);
    return true;
  }

  /**
   * The exact clock time from which `n` tokens can be taken, counting only the recorded events: `now` if
   * they are there, else when enough events leave the window. `undefined` when that depends on reservations
   * being released (more than `capacity - held` tokens asked).
   */
  nextAvailableAt(n = 1): number | undefined {
    this.#checkCount(n);
    const now = this.#clock.now();
    const keep = this.capacity - this.#held - n; // events that may stay in the window
    if (keep < 0) return undefined;
    this.#prune(now);
    const live = this.#times.length - this.#head;
    if (live <= keep) return now;
    return this.#times[this.#head + (live - keep) - 1]! + this.windowMs;
  }

  /**
   * When the `position`-th token from now (1-based) can be taken, if each token taken from now on comes back
   * `windowMs` after it was taken, and the held ones are committed now (`commit`: back at now + windowMs) or
   * refunded now (`refund`). The gate's start-time estimate.
   */
  projectedAt(position: number, held: HeldAssumption): number {
    this.#checkPosition(position);
    const now = this.#clock.now();
    this.#prune(now);
    const live = this.#times.length - this.#head;
    const heldNow = held === 'commit' ? this.#held : 0;
    const cycles = Math.floor((position - 1) / this.capacity);
    const r = ((position - 1) % this.capacity) + 1;
    // The r-th token is free once the window holds at most capacity - heldNow - r events: the x oldest must go.
    const x = live - this.capacity + heldNow + r;
    const first = x <= 0 ? now : x <= live ? this.#times[this.#head + x - 1]! + this.windowMs : now + this.windowMs;
    return first + cycles * this.windowMs;
  }

  /** Holds `n` tokens if they are there; they count as used until `commit` or `refund`. */
  reserve(n = 1): boolean {
    this.#checkCount(n);
    if (this.available() < n) return false;
    this.#held += n;
    return true;
  }

  /** Turns `n` held tokens into events at the current time. */
  commit(n = 1): void {
    this.#release(n);
    this.#push(n);
  }

  /** Gives `n` held tokens back unused. */
  refund(n = 1): void {
    this.#release(n);
  }

  /** Records `n` events that already happened (a failed validation), whether or not tokens were free. */
  record(n = 1): void {
    this.#checkPosition(n);
    this.#push(n);
  }

  /** No reservation and no event in the window: the bucket is as good as new and can be dropped. */
  isIdle(): boolean {
    return this.#held === 0 && this.inWindow() === 0;
  }

  #release(n: number): void {
    this.#checkPosition(n);
    if (n > this.#held) {
      throw new InvalidInputError(ErrorCode.invalidOption, `cannot release ${n} tokens, only ${this.#held} are held`, { step: 'input' });
    }
    this.#held -= n;
  }

  #push(n: number): void {
    const last = this.#times.length > this.#head ? this.#times[this.#times.length - 1]! : -Infinity;
    // A wall clock may step back: keep the log sorted, never earlier than the last event (conservative).
    const at = Math.max(this.#clock.now(), last);
    for (let i = 0; i < n; i++) this.#times.push(at);
    const excess = this.#times.length - this.#head - this.capacity;
    if (excess > 0) this.#head += excess;
    this.#compact();
  }

  /** Drops the events that can no longer share a window with `now` (e <= now - windowMs). */
  #prune(now: number): void {
    const limit = now - this.windowMs;
    while (this.#head < this.#times.length && this.#times[this.#head]! <= limit) this.#head++;
    this.#compact();
  }

  #compact(): void {
    if (this.#head === this.#times.length) {
      this.#times = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#times.length) {
      this.#times = this.#times.slice(this.#head);
      this.#head = 0;
    }
  }

  #checkCount(n: number): void {
    this.#checkPosition(n);
    if (n > this.capacity) {
      throw new InvalidInputError(ErrorCode.invalidOption, `cannot take ${n} tokens from a bucket of ${this.capacity}`, { step: 'input' });
    }
  }

  #checkPosition(n: number): void {
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new InvalidInputError(ErrorCode.invalidOption, `token count must be a whole number >= 1, got ${String(n)}`, { step: 'input' });
    }
  }
}
