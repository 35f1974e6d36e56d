/**
 * Polling an ACME resource until it reaches a final status (RFC 8555 §7.5.1, §7.4): the server's
 * Retry-After when it sends one, else a short first wait that grows to a bounded interval, within an
 * overall deadline that ends in a typed PollTimeoutError.
 */
import { ErrorCode, PollTimeoutError, type AcmeStep } from '../errors.js';

export interface PollOptions {
  /** First wait when the server sends no Retry-After. */
  initialMs: number;
  /** Longest wait between two polls when the server sends no Retry-After. */
  maxMs: number;
  /** Give up after this long in all. */
  timeoutMs: number;
}

export const DEFAULT_POLL: PollOptions = { initialMs: 250, maxMs: 5_000, timeoutMs: 300_000 };

/**
 * Calls `fetch` until `isFinal(value)`; `wait(ms)` sleeps (and throws when the job is stopped).
 */
export async function pollUntil<T>(
  step: AcmeStep,
  what: string,
  fetch: () => Promise<{ value: T; retryAfterMs: number | undefined }>,
  isFinal: (v: T) => boolean,
  wait: (ms: number) => Promise<void>,
  opts: PollOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let delay = opts.initialMs;
  for (;;) {
    const { value, retryAfterMs } = await fetch();
    if (isFinal(value)) return value;
    const pause = retryAfterMs ?? delay;
    if (Date.now() + pause > deadline) {
      throw new PollTimeoutError(ErrorCode.pollTimeout, `${what} not final after ${opts.timeoutMs} ms`, { step, data: { timeoutMs: opts.timeoutMs } });
    }
    await wait(pause);
    delay = Math.min(opts.maxMs, Math.ceil(delay * 1.5));
  }
}
