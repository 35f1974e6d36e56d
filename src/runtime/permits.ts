/**
 * A counting semaphore with a FIFO queue: at most `max` holders at once, the others wait in the order
 * they asked. Generic: the supervisor uses it to bound the RSA key generations that run at once on
 * libuv's thread pool (see SupervisorOptions.keygenConcurrency).
 */
import { AbortedError, ErrorCode, type AcmeStep } from '../errors.js';

interface Waiter {
  grant(): void;
}

export class Permits {
  readonly max: number;
  /** The step an abandoned wait reports (AbortedError.step). */
  readonly #step: AcmeStep;
  #held = 0;
  readonly #waiting: Waiter[] = [];

  constructor(max: number, step: AcmeStep) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`permits: max must be a whole number >= 1, got ${String(max)}`);
    this.max = max;
    this.#step = step;
  }

  /** Permits held now. */
  get held(): number {
    return this.#held;
  }

  /** Callers waiting for a permit. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Resolves with the permit's release function once one is free (at once if one is). Releasing twice
   * is a no-op. Rejects with AbortedError if `signal` aborts first; the place in the queue is then given up.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(this.#aborted());
    if (this.#held < this.max && this.#waiting.length === 0) {
      this.#held += 1;
      return Promise.resolve(this.#release());
    }
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.#waiting.indexOf(waiter);
        if (i !== -1) this.#waiting.splice(i, 1);
        reject(this.#aborted());
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.#release());
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #release(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#waiting.shift();
      // The permit passes straight to the next waiter: the count stays as it is.
      if (next) next.grant();
      else this.#held -= 1;
    };
  }

  #aborted(): AbortedError {
    return new AbortedError(ErrorCode.aborted, 'stopped while waiting for a permit', { step: this.#step });
  }
}
