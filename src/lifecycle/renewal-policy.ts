/**
 * When a certificate renews. Pure: `now` and `random` are injected, nothing is read or scheduled here.
 *
 * Two sources, one cap:
 * - the CA's ARI suggested window (RFC 9773 §4.2), when there is a valid one: a uniformly random moment in
 *   it, immediately when it is already past;
 * - otherwise the lifetime rule: renew when a third of the validity period is left (half of it for
 *   certificates of 10 days or less, as Let's Encrypt's short-lived certificates want), spread by a random
 *   jitter that only ever moves the renewal earlier;
 * - the safety net: the lifetime rule's moment is also the latest moment any renewal is scheduled, so an
 *   ARI window that ends later is cut there, and one that starts later is not used at all. ARI can move a
 *   renewal earlier, never past the point the lifetime rule leaves for retrying a failed renewal.
 *
 * Every result is a half-open window `[windowStart, windowEnd)` and a moment `at` inside it, except when
 * the window is already over: then `at` is `now` (renew immediately).
 */
import { ErrorCode, InvalidInputError } from '../errors.js';

const DAY_MS = 86_400_000;

/**
 * Certificates whose validity period is at most this long renew at half their lifetime, not at a third:
 * Let's Encrypt's six-day certificates. Boulder serves its ARI window around the same points
 * (`core/objects.go` `RenewalInfoSimple`: `validity / 3`, `validity / 2` below 10 days).
 */
export const SHORT_LIVED_MAX_MS = 10 * DAY_MS;

/**
 * The lifetime rule's jitter is `lifetime / LIFETIME_JITTER_DIVISOR`, all of it before the rule's moment:
 * 2% of the validity period, the width of the window Boulder serves over ARI (`RenewalInfoSimple`: the
 * ideal moment ± validity/100). 1.8 days for a 90-day certificate, 2.88 h for a six-day one: enough to
 * spread a thousand certificates issued in the same minute, and never later than the rule.
 */
export const LIFETIME_JITTER_DIVISOR = 50;

/**
 * The error code of `checkNotDueAtIssuance`. Not (yet) in `ErrorCode` (src/errors.ts is not this layer's
 * file); the value is the code it would have there.
 */
export const RENEWAL_DUE_AT_ISSUANCE = ErrorCode.renewalDueAtIssuance;

/**
 * A freshly issued certificate must leave at least this long before its renewal: one minute, the first
 * rung of the retry ladder. A certificate that wants renewing sooner than a failed renewal would be retried
 * is a configuration error, and renewing it would loop.
 */
export const DEFAULT_MIN_RENEWAL_INTERVAL_MS = 60_000;

/** RFC 9773 §4.2 `suggestedWindow` (the shape of `RenewalInfo.suggestedWindow` in src/acme/ari.ts). */
export interface SuggestedWindow {
  start: Date;
  end: Date;
}

/** A certificate's validity period and, when the CA offered one, its ARI suggested window. */
export interface CertificateValidity {
  notBefore: Date | string;
  notAfter: Date | string;
  ari?: SuggestedWindow | undefined;
}

export interface RenewalTimeInput extends CertificateValidity {
  /** Milliseconds since the epoch. */
  now: number;
  /** A uniform random number in [0, 1), as `Math.random`. */
  random: () => number;
}

export type RenewalReason = 'ari' | 'lifetime';

export interface RenewalTime {
  /** When to renew (ms since the epoch): in `[windowStart, windowEnd)`, or `now` when that window is over. */
  at: number;
  /** `ari` when the CA's suggested window was used, `lifetime` for the lifetime rule (also the safety net). */
  reason: RenewalReason;
  windowStart: number;
  /** Exclusive; never later than the lifetime rule's moment (`lifetimeRenewalPoint`). */
  windowEnd: number;
}

/**
 * The lifetime rule's moment: `notAfter` minus a third of the validity period (a half for certificates of
 * `SHORT_LIVED_MAX_MS` or less), rounded down to the millisecond so it is never later than the rule.
 * Validity is `notAfter - notBefore`, as `isDueForRenewal` (src/renewal-window.ts) counts it.
 */
export function lifetimeRenewalPoint(notBefore: number, notAfter: number): number {
  const lifetime = notAfter - notBefore;
  const left = lifetime <= SHORT_LIVED_MAX_MS ? lifetime / 2 : lifetime / 3;
  return notAfter - Math.ceil(left);
}

/**
 * The moment a certificate's renewal is due at the latest (exclusive): the lifetime rule's moment, or the
 * end of a valid ARI window that ends before it. `renewalTime` never returns a later moment, whatever
 * `random` says (except `now`, when this moment has passed).
 *
 * @throws InvalidInputError (`ERR_INVALID_OPTION`, step `input`) for dates that are not dates, or
 *   `notAfter` not after `notBefore`.
 */
export function renewalDeadline(cert: CertificateValidity): number {
  const { notBefore, notAfter, window } = checkValidity(cert);
  const point = lifetimeRenewalPoint(notBefore, notAfter);
  return window && window.start < point ? Math.min(window.end, point) : point;
}

/**
 * When to renew a certificate.
 *
 * With a valid ARI window `[start, end)` that starts before the lifetime rule's moment L (RFC 9773 §4.2's
 * RECOMMENDED algorithm: "select a uniform random time within the suggested window"; when it is in the
 * past, renew immediately): a uniformly random moment in `[max(start, now), min(end, L))`, or `now` when
 * that is empty. The part of the window already past is not drawn from: after a restart, certificates in
 * the middle of their window stay spread over its remainder instead of all renewing at once.
 *
 * An ARI window with `end <= start` is invalid (§4.2) and ignored, as if the CA had not answered. One that
 * starts at or after L is not used either (the safety net).
 *
 * Otherwise the lifetime rule: a uniformly random moment in `[L - J, L)`, J = lifetime/50 (at least 1 ms),
 * or in `[now, L)` when part of it is past, or `now` when L is past.
 *
 * `random` is called exactly once.
 *
 * @throws InvalidInputError (`ERR_INVALID_OPTION`, step `input`) for bad dates, a non-finite `now`, or a
 *   `random` that is not a function or returns a value outside [0, 1).
 */
export function renewalTime(input: RenewalTimeInput): RenewalTime {
  const { notBefore, notAfter, window } = checkValidity(input);
  const now = checkNow(input.now);
  const r = draw(input.random);
  const point = lifetimeRenewalPoint(notBefore, notAfter);
  if (window && window.start < point) {
    const windowEnd = Math.min(window.end, point);
    return { at: pick(window.start, windowEnd, now, r), reason: 'ari', windowStart: window.start, windowEnd };
  }
  const jitter = Math.max(1, Math.floor((notAfter - notBefore) / LIFETIME_JITTER_DIVISOR));
  return { at: pick(point - jitter, point, now, r), reason: 'lifetime', windowStart: point - jitter, windowEnd: point };
}

/**
 * Checks a certificate that a renewal has just stored: its renewal must not be due right away. A
 * certificate already due at issuance (expired, a lifetime so short its renewal point is less than
 * `minIntervalMs` away, an ARI window already over, a `notBefore` far in the past...) would be renewed
 * again at once, and again: a loop that burns the CA's rate limits. This turns it into an error instead.
 * Deterministic: it looks at `renewalDeadline`, the latest moment `renewalTime` may choose, and returns it.
 *
 * @throws InvalidInputError with code `RENEWAL_DUE_AT_ISSUANCE` (step `input`, `data.reason`: `expired`,
 *   `ariWindowEnded` or `lifetimeTooShort`; `data.renewBy`, `data.notBefore`, `data.notAfter` as ISO
 *   strings) when `renewalDeadline - now < minIntervalMs`; `ERR_INVALID_OPTION` for bad dates.
 */
export function checkNotDueAtIssuance(
  input: CertificateValidity & { now: number; minIntervalMs?: number | undefined; domain?: string | undefined },
): number {
  const { notBefore, notAfter, window } = checkValidity(input);
  const now = checkNow(input.now);
  const minIntervalMs = input.minIntervalMs ?? DEFAULT_MIN_RENEWAL_INTERVAL_MS;
  if (!(minIntervalMs >= 0) || !Number.isFinite(minIntervalMs)) {
    throw bad(`minIntervalMs must be a finite number >= 0, got ${String(minIntervalMs)}`, 'badMinInterval');
  }
  const point = lifetimeRenewalPoint(notBefore, notAfter);
  const byAri = window !== undefined && window.start < point && window.end < point;
  const deadline = byAri ? window.end : point;
  if (deadline - now >= minIntervalMs) return deadline;
  const reason = notAfter <= now ? 'expired' : byAri ? 'ariWindowEnded' : 'lifetimeTooShort';
  const name = input.domain === undefined ? 'the new certificate' : `the new certificate for ${input.domain}`;
  throw new InvalidInputError(
    RENEWAL_DUE_AT_ISSUANCE,
    `${name} is due for renewal right after issuance (renew by ${iso(deadline)}, now ${iso(now)}, ${reason}); it is not rescheduled, to avoid a renewal loop`,
    {
      step: 'input',
      data: {
        ...(input.domain === undefined ? {} : { domain: input.domain }),
        reason,
        notBefore: iso(notBefore),
        notAfter: iso(notAfter),
        renewBy: iso(deadline),
        now: iso(now),
        minIntervalMs,
      },
    },
  );
}

/** A uniformly random moment in [lo, hi) not before `now`; `now` when that is empty. */
function pick(lo: number, hi: number, now: number, r: number): number {
  const from = Math.max(lo, now);
  if (hi <= from) return now;
  return from + Math.floor(r * (hi - from));
}

function draw(random: () => number): number {
  if (typeof random !== 'function') throw bad('random must be a function returning a number in [0, 1)', 'badRandom');
  const r = random();
  if (!(r >= 0 && r < 1)) throw bad(`random() must return a number in [0, 1), got ${String(r)}`, 'badRandom');
  return r;
}

function checkNow(now: number): number {
  if (typeof now !== 'number' || !Number.isFinite(now)) throw bad(`now must be a finite number of milliseconds, got ${String(now)}`, 'badNow');
  return now;
}

function checkValidity(cert: CertificateValidity): { notBefore: number; notAfter: number; window: { start: number; end: number } | undefined } {
  const notBefore = toMs(cert.notBefore, 'notBefore');
  const notAfter = toMs(cert.notAfter, 'notAfter');
  if (notAfter <= notBefore) throw bad(`notAfter (${iso(notAfter)}) must be after notBefore (${iso(notBefore)})`, 'emptyValidity');
  return { notBefore, notAfter, window: usableWindow(cert.ari) };
}

/** RFC 9773 §4.2: a window whose end does not follow its start is treated as no answer at all. */
function usableWindow(ari: SuggestedWindow | undefined): { start: number; end: number } | undefined {
  if (ari === undefined || !(ari.start instanceof Date) || !(ari.end instanceof Date)) return undefined;
  const start = ari.start.getTime();
  const end = ari.end.getTime();
  return Number.isFinite(start) && Number.isFinite(end) && end > start ? { start, end } : undefined;
}

function toMs(value: Date | string, field: string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw bad(`${field} is not a date: ${String(value)}`, 'badDate');
  return ms;
}

function iso(ms: number): string {
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
}

function bad(message: string, reason: string): InvalidInputError {
  return new InvalidInputError(ErrorCode.invalidOption, message, { step: 'input', data: { reason } });
}
