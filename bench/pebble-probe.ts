/**
 * What the bench reads from Pebble itself, the same way for every tool: its log (one
 * `<METHOD> <path> -> calling handler()` line per ACME request, one `Sleeping for <duration> seconds
 * before validating` line per validation in realistic mode) and its process's CPU in /proc.
 */
import { childrenOf, processCpuSeconds } from './proc-stat.js';

const REQUEST_LINE = / -> calling handler\(\)\s*$/;
const SLEEP_LINE = /Sleeping for (\S+) seconds before validating/;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ns: 1e-6 };

/** A Go time.Duration string (`4.25s`, `812.5ms`, `1m2.5s`, `0s`) in ms; NaN when it is not one. */
export function parseGoDuration(s: string): number {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|μs|ns)/gy;
  let total = 0;
  let at = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    at = re.lastIndex;
  }
  return at === s.length && at > 0 ? total : Number.NaN;
}

/** A window over Pebble's log: requests and VA sleeps seen since it opened. */
export interface LogWindow {
  requests(): number;
  /** The longest VA sleep logged in the window, ms (NaN: none). */
  maxSleepMs(): number;
}

export interface PebbleLogTap {
  /** Pass as startPebble's `log`. */
  onLine(line: string): void;
  open(): LogWindow;
}

export function pebbleLogTap(): PebbleLogTap {
  let requests = 0;
  const sleeps: number[] = [];
  return {
    onLine(line) {
      if (REQUEST_LINE.test(line)) requests += 1;
      const m = SLEEP_LINE.exec(line);
      if (m) sleeps.push(parseGoDuration(m[1]!));
    },
    open() {
      const r0 = requests;
      const s0 = sleeps.length;
      return {
        requests: () => requests - r0,
        maxSleepMs: () => {
          const mine = sleeps.slice(s0).filter((v) => Number.isFinite(v));
          return mine.length > 0 ? Math.max(...mine) : Number.NaN;
        },
      };
    },
  };
}

/** The pebble process under the fixture's guard shells (PebbleInstance.pids are the guards). */
export function findPebblePid(guardPids: readonly number[]): number | undefined {
  for (const g of guardPids) {
    const c = childrenOf(g).find((p) => p.comm === 'pebble');
    if (c) return c.pid;
  }
  return undefined;
}

/** A reader of Pebble's cumulative CPU seconds; NaN when its process is not found. */
export function pebbleCpuReader(guardPids: readonly number[], ticks: number): () => number {
  const pid = findPebblePid(guardPids);
  return pid === undefined ? () => Number.NaN : () => processCpuSeconds(pid, ticks);
}
