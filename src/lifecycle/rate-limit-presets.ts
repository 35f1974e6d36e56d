/**
 * The CA rate limits the gate enforces, and Let's Encrypt's published values.
 *
 * Sources (read 2026-12-03 through the project's search tool):
 * - https://letsencrypt.org/docs/rate-limits/ (page "Last updated: June 12, 2025"): New Orders per Account
 *   300 per 3 hours; New Certificates per Registered Domain 50 per 7 days (global, every account counts);
 *   New Certificates per Exact Set of Identifiers 5 per 7 days (global); Authorization Failures per
 *   Identifier per Account 5 per hour; New Registrations per IP Address 10 per 3 hours (not a gate limit:
 *   a supervisor registers its account once).
 * - https://letsencrypt.org/docs/staging-environment/ (version of 2025-05-12, letsencrypt/website
 *   content/en/docs/staging-environment.md): New Orders per Account 1500 per 3 hours; New Certificates per
 *   Registered Domain 30000 (the page says "per second", which reads as a typo: the page it replaced said
 *   30,000 per week, and per week is the safe reading); New Certificates per Exact Set 30000 per week;
 *   Authorization Failures per Hostname per Account 200 per hour. The page as updated on 2025-11-25 only
 *   says staging uses "different values", without listing them.
 *
 * Let's Encrypt counts with token buckets that refill gradually; the gate's sliding windows are stricter
 * (see token-bucket.ts), so staying under them never trips the CA. Renewals that the CA exempts (ARI) are
 * still counted here: the gate errs on the side of waiting.
 */
import { ErrorCode, InvalidInputError } from '../errors.js';
import { validateWindowLimit, type WindowLimit } from './token-bucket.js';

/** Each limit is `{ count, windowMs }`, or `undefined` for no limit. */
export interface RateLimits {
  /** New orders per ACME account (LE: New Orders per Account). */
  readonly newOrdersPerAccount?: WindowLimit | undefined;
  /** Certificates per registered domain, whatever the account (LE: New Certificates per Registered Domain). */
  readonly certificatesPerRegisteredDomain?: WindowLimit | undefined;
  /** Certificates per exact set of names, case and order ignored (LE: New Certificates per Exact Set of Identifiers). */
  readonly duplicateCertificates?: WindowLimit | undefined;
  /** Failed validations per account and host name (LE: Authorization Failures per Identifier per Account). */
  readonly failedValidationsPerHost?: WindowLimit | undefined;
}

const HOUR = 60 * 60 * 1000;
const WEEK = 7 * 24 * HOUR;

export const LETS_ENCRYPT_PRODUCTION_LIMITS: Readonly<RateLimits> = Object.freeze({
  newOrdersPerAccount: Object.freeze({ count: 300, windowMs: 3 * HOUR }),
  certificatesPerRegisteredDomain: Object.freeze({ count: 50, windowMs: WEEK }),
  duplicateCertificates: Object.freeze({ count: 5, windowMs: WEEK }),
  failedValidationsPerHost: Object.freeze({ count: 5, windowMs: HOUR }),
});

export const LETS_ENCRYPT_STAGING_LIMITS: Readonly<RateLimits> = Object.freeze({
  newOrdersPerAccount: Object.freeze({ count: 1500, windowMs: 3 * HOUR }),
  certificatesPerRegisteredDomain: Object.freeze({ count: 30000, windowMs: WEEK }),
  duplicateCertificates: Object.freeze({ count: 30000, windowMs: WEEK }),
  failedValidationsPerHost: Object.freeze({ count: 200, windowMs: HOUR }),
});

/** No limit at all (Pebble, a private CA): the gate then bounds concurrency only. */
export const UNLIMITED_LIMITS: Readonly<RateLimits> = Object.freeze({});

const KEYS = ['newOrdersPerAccount', 'certificatesPerRegisteredDomain', 'duplicateCertificates', 'failedValidationsPerHost'] as const;

/**
 * Checks custom limits and returns a frozen copy. A non-positive or non-integer count, a non-positive
 * window, or an unknown key throws `InvalidInputError` (`ERR_INVALID_OPTION`, step `input`).
 */
export function validateRateLimits(limits: unknown): Readonly<RateLimits> {
  if (typeof limits !== 'object' || limits === null || Array.isArray(limits)) {
    throw new InvalidInputError(ErrorCode.invalidOption, 'rate limits must be an object', { step: 'input', data: { option: 'limits' } });
  }
  const unknown = Object.keys(limits).filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw new InvalidInputError(ErrorCode.invalidOption, `unknown rate limit ${unknown.join(', ')}; known: ${KEYS.join(', ')}`, {
      step: 'input',
      data: { option: `limits.${unknown[0]!}` },
    });
  }
  const out: { -readonly [K in keyof RateLimits]: WindowLimit } = {};
  for (const key of KEYS) {
    const value = (limits as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = Object.freeze(validateWindowLimit(`limits.${key}`, value));
  }
  return Object.freeze(out);
}
