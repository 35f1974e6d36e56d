/**
 * When to try again after a failed renewal. Pure: the caller counts failures and passes the times in.
 *
 * The ladder is certmagic's, taken literally (caddyserver/certmagic `async.go`: `retryIntervals` and
 * `maxRetryDuration = 24 * time.Hour * 30`, used by `doWithRetry`): 1, 2, 2, 5, 10, 20, 20, 30, 30 min,
 * 1 h, 3 h (6 h elapsed), then every 6 h, for up to 30 days after the first failure. Weighted to the front:
 * a transient error clears after the first retry, anything else needs minutes or hours (DNS propagation, an
 * administrator fixing a record).
 *
 * After 30 days the ladder gives up. What happens next is the caller's choice; the renewal scheduler keeps
 * trying once a day (`GAVE_UP_RETRY_MS`), as certmagic keeps trying too (its maintenance loop starts a new
 * `doWithRetry` for a certificate that still needs renewing), at the pace Let's Encrypt's integration guide
 * asks for ("an exponential backoff pattern, maxing out at once per day per certificate").
 *
 * A CA's `Retry-After` (RFC 8555 §6.6 rate limits, RFC 9110 §10.2.3) is honoured: a retry is never
 * scheduled earlier than the CA asked.
 */
import { ErrorCode, InvalidInputError } from '../errors.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** certmagic's `retryIntervals`, in ms: the delay after the 1st, 2nd, ... failure; the last one repeats. */
export const RETRY_LADDER_MS: readonly number[] = Object.freeze([1, 2, 2, 5, 10, 20, 20, 30, 30, 60, 180, 360].map((m) => m * MINUTE_MS));

/** certmagic's `maxRetryDuration`: a failure this long (or longer) after the first one gives up. */
export const MAX_RETRY_DURATION_MS = 30 * DAY_MS;

/** After giving up, the scheduler still tries once a day (Let's Encrypt's integration guide). */
export const GAVE_UP_RETRY_MS = DAY_MS;

export interface RetryInput {
  /** Consecutive failed attempts so far, the one that just failed included (>= 1). */
  failures: number;
  /** When the first of those failures happened (ms since the epoch). */
  firstFailureAt: number;
  /** Now, the time of the failure just counted. */
  now: number;
  /** The CA's Retry-After, in ms from now (negative: a date already past, so no wait). */
  retryAfterMs?: number | undefined;
}

export type RetryDecision = { at: number } | { giveUp: true };

/** The ladder's delay after the `failures`-th consecutive failure (the last rung repeats). */
export function retryDelayMs(failures: number): number {
  checkFailures(failures);
  return RETRY_LADDER_MS[Math.min(failures, RETRY_LADDER_MS.length) - 1]!;
}

/**
 * After a failed renewal: `{ at }`, `now` plus the ladder's delay or the CA's `Retry-After` if longer; or
 * `{ giveUp: true }` once `now - firstFailureAt >= MAX_RETRY_DURATION_MS` (certmagic's check: it retries
 * while less than 30 days have passed since the first attempt).
 *
 * @throws InvalidInputError (`ERR_INVALID_OPTION`, step `input`) for `failures` not an integer >= 1,
 *   non-finite times, or a non-finite `retryAfterMs`.
 */
export function nextRetry(input: RetryInput): RetryDecision {
  const delay = retryDelayMs(input.failures);
  const now = finite(input.now, 'now');
  const first = finite(input.firstFailureAt, 'firstFailureAt');
  const retryAfter = input.retryAfterMs === undefined ? 0 : Math.max(0, finite(input.retryAfterMs, 'retryAfterMs'));
  if (now - first >= MAX_RETRY_DURATION_MS) return { giveUp: true };
  return { at: now + Math.max(delay, retryAfter) };
}

function checkFailures(failures: number): void {
  if (!Number.isInteger(failures) || failures < 1) {
    throw new InvalidInputError(ErrorCode.invalidOption, `failures must be an integer >= 1, got ${String(failures)}`, {
      step: 'input',
      data: { reason: 'badFailures' },
    });
  }
}

function finite(value: number, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new InvalidInputError(ErrorCode.invalidOption, `${field} must be a finite number of milliseconds, got ${String(value)}`, {
      step: 'input',
      data: { reason: 'badTime', field },
    });
  }
  return value;
}
