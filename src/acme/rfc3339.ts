/**
 * RFC 3339 §5.6 `date-time` timestamps, which ACME uses for order validity (RFC 8555 §7.1.3, §7.4) and
 * renewal windows (RFC 9773 §4.2). Pure.
 */

/** full-date "T" full-time, with a Z or numeric offset; "T" and "Z" may be lower case (§5.6 NOTE). */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** True for an RFC 3339 date-time naming a real instant (no 2025-02-30, no 25:00). */
export function isRfc3339(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const m = DATE_TIME.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  // second 60 is a leap second (§5.7); Date cannot represent it, so it is refused here.
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return false;
  return !Number.isNaN(Date.parse(value.toUpperCase()));
}
