/**
 * Parses an HTTP `Retry-After` value (RFC 9110 §10.2.3), which RFC 8555 §6.6 and §7.4 use for rate
 * limits and polling: either delay-seconds or an HTTP-date. Pure.
 */

/** Milliseconds to wait from `now`, or undefined when absent or unparsable. Never negative. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const trimmed = v.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
