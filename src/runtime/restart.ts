/**
 * The pure rules of a supervisor: whether a child's exit calls for a restart, OTP's restart-intensity
 * window, and an exponential backoff. No timers and no clock here: callers pass `now` in milliseconds.
 * The OTP rules are taken literally from stdlib's supervisor.erl (`do_restart/3`, `add_restart/1,3`).
 */

/** OTP's child restart types. */
export type Restart = 'permanent' | 'transient' | 'temporary';

/** OTP's static restart strategies (simple_one_for_one is a dynamic one_for_one here). */
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';

/**
 * Why a child ended. `normal` and `shutdown` are the non-abnormal reasons, as in OTP. A `crash` marked
 * `collateral` was not the child's doing (the thread it shared was ended for another child): it is
 * restarted like any crash but not counted toward the restart intensity, which measures a child's own failures.
 */
export type ExitReason =
  | { kind: 'normal' }
  | { kind: 'shutdown' }
  | { kind: 'crash'; error: Error; collateral?: boolean }
  | { kind: 'killed'; exitCode?: number };

/** An exit is abnormal unless it is `normal` or `shutdown` (OTP also counts `{shutdown, Term}` as the latter). */
export function isAbnormal(reason: ExitReason): boolean {
  return reason.kind !== 'normal' && reason.kind !== 'shutdown';
}

/**
 * supervisor.erl `do_restart/3`: a permanent child is always restarted, a transient one only after an abnormal
 * exit, a temporary one never.
 */
export function shouldRestart(restart: Restart, reason: ExitReason): boolean {
  switch (restart) {
    case 'permanent':
      return true;
    case 'transient':
      return isAbnormal(reason);
    case 'temporary':
      return false;
  }
}

/**
 * supervisor.erl `add_restart/1,3` taken literally: on each restart, keep the earlier restarts `R` with
 * `R >= Now - Period` (inclusive), prepend `Now`, and terminate when more than `Intensity` remain. Times are
 * milliseconds here where OTP uses seconds. The new timestamp is kept even when the result is `'exceeded'`.
 */
export class RestartWindow {
  readonly intensity: number;
  readonly periodMs: number;
  #restarts: number[] = []; // newest first, as OTP's list

  constructor(intensity: number, periodMs: number) {
    if (!Number.isInteger(intensity) || intensity < 0) throw new RangeError(`intensity must be an integer >= 0, got ${intensity}`);
    if (!(periodMs > 0)) throw new RangeError(`periodMs must be > 0, got ${periodMs}`);
    this.intensity = intensity;
    this.periodMs = periodMs;
  }

  add(now: number): 'ok' | 'exceeded' {
    const threshold = now - this.periodMs;
    const kept: number[] = [];
    for (const r of this.#restarts) {
      if (r < threshold) break; // lists:takewhile
      kept.push(r);
    }
    this.#restarts = [now, ...kept];
    return this.#restarts.length <= this.intensity ? 'ok' : 'exceeded';
  }

  /** Restarts currently in the window (as of the last `add`). */
  get count(): number {
    return this.#restarts.length;
  }
}

export interface BackoffOptions {
  /** Floor of every delay, and the delay of attempt 0. */
  minMs: number;
  /** Cap of every delay. */
  maxMs: number;
  /** Growth per attempt. */
  factor: number;
}

/**
 * Not in OTP. The ceiling grows as `minMs * factor^attempt`, capped at `maxMs`; the delay is drawn uniformly
 * from `[minMs, ceiling)` (full jitter above a floor, so a backoff is never zero). `attempt` counts from 0.
 */
export function backoffMs(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const floor = Math.max(0, Math.min(opts.minMs, opts.maxMs));
  const n = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  const grown = opts.minMs * Math.pow(opts.factor, n);
  const ceiling = Number.isNaN(grown) ? floor : Math.max(floor, Math.min(opts.maxMs, grown));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.min(ceiling, Math.floor(floor + r * (ceiling - floor)));
}
