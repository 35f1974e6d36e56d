/**
 * Small text formatters shared by the CLI commands: elapsed-time stamps, seconds, dates and days
 * left. Pure functions, no I/O.
 */

/** `ms` as seconds with `digits` decimals, e.g. `1.23`. */
export function seconds(ms: number, digits = 2): string {
  return (ms / 1000).toFixed(digits);
}

/** The progress-line prefix: elapsed seconds right-aligned in brackets, e.g. `[  1.23s]`. */
export function stamp(elapsedMs: number): string {
  return `[${seconds(Math.max(0, elapsedMs)).padStart(6)}s]`;
}

/** The calendar date (UTC) of an ISO 8601 timestamp, e.g. `2031-12-03`. */
export function isoDate(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(0, 10);
}

/** Whole days from `now` until `notAfter` (ISO 8601), rounded down; negative once expired. */
export function daysLeft(notAfter: string, now = Date.now()): number {
  return Math.floor((Date.parse(notAfter) - now) / 86_400_000);
}

/** The first non-empty line of `text`, whitespace collapsed (for one-line reports). */
export function firstLine(text: string): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== '') ?? '';
  return line.replace(/\s+/g, ' ').trim();
}
