/**
 * Fires each domain's renewal on time, on an injected Clock.
 *
 * - One clock timer, for the earliest due domain: the schedule is a binary min-heap (time, then insertion
 *   order), so 1000 domains are 1000 heap slots and one timer. A delay longer than Node's timer limit
 *   (2^31-1 ms, ~24.8 days: a longer one fires at once) is clamped and the timer re-armed when it fires.
 * - No burst: one timer callback starts at most `batchSize` due renewals (default 100); when more are due,
 *   the same single timer is re-armed with delay 0, so the rest start in later macrotasks and I/O runs in
 *   between. Bounding how many renewals run at once is not this module's job (a rate-limit gate does it).
 * - Never two jobs for one domain: a domain leaves the heap while its renewal runs, so it cannot start
 *   again; a `schedule()` made meanwhile is remembered and applied when the renewal ends.
 * - After `renew` resolves `{ ok: true }`: the new certificate's renewal time (renewal-policy.ts), after
 *   checking it is not due at issuance (if it is: a `renewal:halted` event and the domain leaves the
 *   schedule, no loop). After `{ ok: false }` (or a rejection): the retry ladder (retry-ladder.ts), never
 *   earlier than the CA's Retry-After; once the ladder gives up (30 days), `renewal:gave-up` and, by
 *   default, one attempt a day from then on (`afterGiveUp: 'unschedule'` drops the domain instead).
 * - `stop()` clears the timer and forgets the schedule. Renewals already running are not awaited (the
 *   caller owns them and stops them itself): their outcomes are ignored, no event and no timer follow.
 *
 * Events go to `onEvent`, synchronously, after the scheduler's own state is consistent; a listener may call
 * back into the scheduler. A listener that throws is ignored (its exception is dropped): a faulty listener
 * must not stop renewals.
 */
import type { Clock } from '../runtime/clock.js';
import { DueHeap, type Slot } from './due-heap.js';
import { AbortedError, ErrorCode, InvalidInputError, LeecError } from '../errors.js';
import {
  DEFAULT_MIN_RENEWAL_INTERVAL_MS,
  checkNotDueAtIssuance,
  renewalTime,
  type CertificateValidity,
  type RenewalReason,
  type RenewalTime,
  type SuggestedWindow,
} from './renewal-policy.js';
import { GAVE_UP_RETRY_MS, nextRetry } from './retry-ladder.js';

/** Node's largest timer delay; a longer one is treated as 1 ms (fires at once). */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** Renewals started per timer callback at most. */
export const DEFAULT_BATCH_SIZE = 100;

/** What `renew(domain)` resolves to. A rejected promise counts as `{ ok: false, error }`. */
export type RenewOutcome =
  | {
      ok: true;
      /** The new certificate, as stored. */
      notBefore: Date | string;
      notAfter: Date | string;
      /** The CA's ARI window for the new certificate, if already known. */
      ari?: SuggestedWindow | undefined;
    }
  | {
      ok: false;
      /** The CA's Retry-After, in ms from now. */
      retryAfterMs?: number | undefined;
      error?: unknown;
    };

/** Why a domain is scheduled: the policy's reasons, a retry after a failure, or an explicit `schedule()`. */
export type ScheduleReason = RenewalReason | 'retry' | 'manual';

export type RenewalEvent =
  | {
      type: 'renewal:scheduled';
      domain: string;
      at: number;
      reason: ScheduleReason;
      /** The policy window `at` was drawn from (reasons `ari` and `lifetime`). */
      windowStart?: number;
      windowEnd?: number;
    }
  | { type: 'renewal:started'; domain: string; attempt: number }
  | { type: 'renewal:succeeded'; domain: string; attempt: number; notBefore: number; notAfter: number }
  | { type: 'renewal:failed'; domain: string; attempt: number; nextAt: number | undefined; error?: unknown }
  | { type: 'renewal:gave-up'; domain: string; attempts: number; firstFailureAt: number; nextAt: number | undefined }
  /** The domain left the schedule because retrying would not help (due at issuance, a malformed outcome). */
  | { type: 'renewal:halted'; domain: string; error: LeecError };

export interface RenewalSchedulerOptions {
  clock: Clock;
  /** Renews one domain. Never called twice at once for one domain. */
  renew: (domain: string) => Promise<RenewOutcome>;
  onEvent?: ((event: RenewalEvent) => void) | undefined;
  /** Uniform in [0, 1); default `Math.random`. */
  random?: (() => number) | undefined;
  /** Renewals started per timer callback at most; default `DEFAULT_BATCH_SIZE`. */
  batchSize?: number | undefined;
  /** A new certificate due sooner than this is an error (`checkNotDueAtIssuance`); default 1 min. */
  minRenewalIntervalMs?: number | undefined;
  /** After the retry ladder gives up: keep trying once a day (default), or drop the domain. */
  afterGiveUp?: 'retry-daily' | 'unschedule' | undefined;
}

export interface ScheduledRenewal {
  domain: string;
  at: number;
  reason: ScheduleReason;
}

/** A certificate the store holds, for `rebuild`. */
export interface StoredCertificate extends CertificateValidity {
  domain: string;
}

export class RenewalScheduler {
  readonly #clock: Clock;
  readonly #renew: (domain: string) => Promise<RenewOutcome>;
  readonly #onEvent: ((event: RenewalEvent) => void) | undefined;
  readonly #random: () => number;
  readonly #batchSize: number;
  readonly #minIntervalMs: number;
  readonly #afterGiveUp: 'retry-daily' | 'unschedule';
  readonly #heap = new DueHeap();
  readonly #states = new Map<string, DomainState>();
  #seq = 0;
  #timer: unknown = undefined;
  #armed = false;
  #armedFor = 0;
  #holdArm = 0;
  #stopped = false;

  /** @throws InvalidInputError (`ERR_INVALID_OPTION`) for a missing clock or renew, or a bad option. */
  constructor(opts: RenewalSchedulerOptions) {
    const { clock, renew, onEvent, random, batchSize = DEFAULT_BATCH_SIZE, minRenewalIntervalMs = DEFAULT_MIN_RENEWAL_INTERVAL_MS, afterGiveUp = 'retry-daily' } =
      opts ?? ({} as RenewalSchedulerOptions);
    if (!clock || typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function') {
      throw badOption('clock must be a Clock (now, setTimeout, clearTimeout)', 'clock');
    }
    if (typeof renew !== 'function') throw badOption('renew must be a function', 'renew');
    if (onEvent !== undefined && typeof onEvent !== 'function') throw badOption('onEvent must be a function', 'onEvent');
    if (random !== undefined && typeof random !== 'function') throw badOption('random must be a function', 'random');
    if (!Number.isInteger(batchSize) || batchSize < 1) throw badOption(`batchSize must be an integer >= 1, got ${String(batchSize)}`, 'batchSize');
    if (typeof minRenewalIntervalMs !== 'number' || !Number.isFinite(minRenewalIntervalMs) || minRenewalIntervalMs < 0) {
      throw badOption(`minRenewalIntervalMs must be a finite number >= 0, got ${String(minRenewalIntervalMs)}`, 'minRenewalIntervalMs');
    }
    if (afterGiveUp !== 'retry-daily' && afterGiveUp !== 'unschedule') throw badOption(`afterGiveUp must be 'retry-daily' or 'unschedule'`, 'afterGiveUp');
    this.#clock = clock;
    this.#renew = renew;
    this.#onEvent = onEvent;
    this.#random = random ?? Math.random;
    this.#batchSize = batchSize;
    this.#minIntervalMs = minRenewalIntervalMs;
    this.#afterGiveUp = afterGiveUp;
  }

  /** Domains the scheduler holds: scheduled, or with a renewal running. */
  get size(): number {
    return this.#states.size;
  }

  /**
   * Renews `domain` at `at` (ms since the epoch; a past time means as soon as possible), replacing its
   * current slot. An explicit time bypasses the retry ladder (an administrator's "retry now", which Let's
   * Encrypt's integration guide asks clients to offer) but never the CA's last Retry-After. While the
   * domain's renewal runs, it is remembered and applied when the renewal ends.
   *
   * @throws InvalidInputError for an empty domain or a non-finite `at`; AbortedError after `stop()`.
   */
  schedule(domain: string, at: number): void {
    this.#checkOpen();
    checkDomain(domain);
    if (typeof at !== 'number' || !Number.isFinite(at)) throw badOption(`at must be a finite number of milliseconds, got ${String(at)}`, 'at');
    const st = this.#state(domain);
    if (st.running) {
      st.pending = { at, reason: 'manual', fromCertificate: false };
      st.dropAfterRun = false;
      return;
    }
    this.#place(domain, st, Math.max(at, st.caWaitUntil ?? -Infinity), 'manual');
  }

  /**
   * Schedules `domain` from its current certificate (and ARI window) with `renewalTime`. Within a failure
   * cycle the result is never earlier than the next retry (RFC 9773 §4.2 keeps ARI-driven renewals subject
   * to the client's error backoff). While the domain's renewal runs it is remembered, and used only
   * if that renewal fails (after a success it describes the replaced certificate).
   *
   * @throws InvalidInputError for bad dates or an empty domain; AbortedError after `stop()`.
   */
  scheduleCertificate(domain: string, cert: CertificateValidity): RenewalTime {
    this.#checkOpen();
    checkDomain(domain);
    const t = renewalTime({ notBefore: cert.notBefore, notAfter: cert.notAfter, ari: cert.ari, now: this.#clock.now(), random: this.#random });
    this.#applyCertificate(domain, this.#state(domain), t);
    return t;
  }

  /**
   * A new certificate for `domain` was obtained outside the scheduler (a manual order): it ends any
   * failure cycle, as a renewal that succeeded would (the ladder starts again at its first rung, a
   * give-up is forgotten, the CA's last Retry-After no longer holds), then schedules it like
   * `scheduleCertificate`. While the domain's own renewal runs, this is `scheduleCertificate`.
   *
   * @throws InvalidInputError for bad dates or an empty domain; AbortedError after `stop()`.
   */
  certificateObtained(domain: string, cert: CertificateValidity): RenewalTime {
    this.#checkOpen();
    checkDomain(domain);
    const st = this.#states.get(domain); // no state made here: bad dates below must leave none behind
    if (st && !st.running) {
      st.failures = 0;
      st.firstFailureAt = undefined;
      st.retryAt = undefined;
      st.caWaitUntil = undefined;
      st.gaveUp = false;
    }
    return this.scheduleCertificate(domain, cert);
  }

  /**
   * Rebuilds the schedule after a restart from the certificates the store holds (the caller reads the
   * store): each domain at its `renewalTime`, an overdue one at once. All entries are checked before any
   * is scheduled. Domains not listed are left as they are.
   *
   * @throws InvalidInputError for a bad entry or a domain listed twice (nothing is scheduled then);
   *   AbortedError after `stop()`.
   */
  rebuild(entries: readonly StoredCertificate[]): Array<RenewalTime & { domain: string }> {
    this.#checkOpen();
    if (!Array.isArray(entries)) throw badOption('rebuild expects an array of { domain, notBefore, notAfter, ari? }', 'entries');
    const now = this.#clock.now();
    const seen = new Set<string>();
    const planned = entries.map((e) => {
      checkDomain(e?.domain);
      if (seen.has(e.domain)) {
        throw new InvalidInputError(ErrorCode.invalidDomain, `rebuild lists ${e.domain} twice`, { step: 'input', data: { domain: e.domain, reason: 'duplicate' } });
      }
      seen.add(e.domain);
      return { domain: e.domain, ...renewalTime({ notBefore: e.notBefore, notAfter: e.notAfter, ari: e.ari, now, random: this.#random }) };
    });
    this.#holdArm++;
    try {
      for (const p of planned) this.#applyCertificate(p.domain, this.#state(p.domain), p);
    } finally {
      this.#holdArm--;
    }
    this.#arm();
    return planned;
  }

  /**
   * Removes `domain` from the schedule; if its renewal is running, that renewal's outcome is ignored.
   * Returns whether the domain was held.
   */
  unschedule(domain: string): boolean {
    const st = this.#states.get(domain);
    if (!st) return false;
    if (st.running) {
      st.pending = undefined;
      st.dropAfterRun = true;
      return true;
    }
    this.#forget(domain, st);
    this.#arm();
    return true;
  }

  /** The domain's next renewal (or the one remembered while its renewal runs); undefined if none. */
  scheduled(domain: string): ScheduledRenewal | undefined {
    const st = this.#states.get(domain);
    if (st?.slot) return { domain, at: st.slot.at, reason: st.reason };
    if (st?.pending) return { domain, at: st.pending.at, reason: st.pending.reason };
    return undefined;
  }

  /** Every domain the scheduler holds (scheduled, or with a renewal running). */
  domains(): string[] {
    return [...this.#states.keys()];
  }

  /** Whether the domain's renewal is running now. */
  isRunning(domain: string): boolean {
    return this.#states.get(domain)?.running === true;
  }

  /** Clears the timer and the schedule. Running renewals are not awaited; their outcomes are ignored. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#disarm();
    this.#heap.clear();
    this.#states.clear();
  }

  #checkOpen(): void {
    if (this.#stopped) throw new AbortedError(ErrorCode.aborted, 'the renewal scheduler is stopped', { data: { reason: 'stopped' } });
  }

  #state(domain: string): DomainState {
    let st = this.#states.get(domain);
    if (!st) {
      st = {
        slot: undefined,
        reason: 'manual',
        running: false,
        pending: undefined,
        dropAfterRun: false,
        failures: 0,
        firstFailureAt: undefined,
        retryAt: undefined,
        caWaitUntil: undefined,
        gaveUp: false,
      };
      this.#states.set(domain, st);
    }
    return st;
  }

  #applyCertificate(domain: string, st: DomainState, t: RenewalTime): void {
    if (st.running) {
      st.pending = { at: t.at, reason: t.reason, window: t, fromCertificate: true };
      st.dropAfterRun = false;
      return;
    }
    if (st.retryAt !== undefined && st.retryAt > t.at) this.#place(domain, st, st.retryAt, 'retry');
    else this.#place(domain, st, t.at, t.reason, t);
  }

  #place(domain: string, st: DomainState, at: number, reason: ScheduleReason, window?: RenewalTime): void {
    if (st.slot) this.#heap.remove(st.slot);
    st.slot = { domain, at, seq: ++this.#seq, index: -1 };
    st.reason = reason;
    this.#heap.push(st.slot);
    this.#arm();
    const event: RenewalEvent = { type: 'renewal:scheduled', domain, at, reason };
    if (window) Object.assign(event, { windowStart: window.windowStart, windowEnd: window.windowEnd });
    this.#emit(event);
  }

  #forget(domain: string, st: DomainState): void {
    if (st.slot) this.#heap.remove(st.slot);
    st.slot = undefined;
    if (this.#states.get(domain) === st) this.#states.delete(domain);
  }

  /** Keeps exactly one timer, for the earliest slot (clamped to MAX_TIMER_DELAY_MS), or none. */
  #arm(): void {
    if (this.#stopped || this.#holdArm > 0) return;
    const top = this.#heap.peek();
    if (!top) {
      this.#disarm();
      return;
    }
    const now = this.#clock.now();
    const target = Math.min(top.at, now + MAX_TIMER_DELAY_MS);
    if (this.#armed && this.#armedFor === target) return;
    this.#disarm();
    this.#armed = true;
    this.#armedFor = target;
    this.#timer = this.#clock.setTimeout(this.#fire, Math.max(0, target - now));
  }

  #disarm(): void {
    if (!this.#armed) return;
    this.#clock.clearTimeout(this.#timer);
    this.#armed = false;
    this.#timer = undefined;
  }

  readonly #fire = (): void => {
    this.#armed = false;
    this.#timer = undefined;
    if (this.#stopped) return;
    const now = this.#clock.now();
    this.#holdArm++;
    try {
      for (let n = 0; n < this.#batchSize && !this.#stopped; n++) {
        const top = this.#heap.peek();
        if (!top || top.at > now) break;
        this.#start(top.domain);
      }
    } finally {
      this.#holdArm--;
    }
    this.#arm();
  };

  #start(domain: string): void {
    const st = this.#states.get(domain)!;
    if (st.slot) this.#heap.remove(st.slot);
    st.slot = undefined;
    st.running = true;
    const attempt = st.failures + 1;
    this.#emit({ type: 'renewal:started', domain, attempt });
    if (this.#stopped || this.#states.get(domain) !== st) return;
    let result: Promise<RenewOutcome>;
    try {
      result = Promise.resolve(this.#renew(domain));
    } catch (error) {
      result = Promise.resolve({ ok: false, error });
    }
    result.then(
      (outcome) => this.#settle(domain, st, attempt, outcome),
      (error: unknown) => this.#settle(domain, st, attempt, { ok: false, error }),
    );
  }

  #settle(domain: string, st: DomainState, attempt: number, outcome: RenewOutcome): void {
    if (this.#stopped || this.#states.get(domain) !== st) return;
    st.running = false;
    const pending = st.pending;
    st.pending = undefined;
    if (st.dropAfterRun) {
      st.dropAfterRun = false;
      this.#forget(domain, st);
      this.#arm();
      return;
    }
    const now = this.#clock.now();
    try {
      if (typeof outcome === 'object' && outcome !== null && outcome.ok === true) this.#succeeded(domain, st, attempt, outcome, pending, now);
      else this.#failed(domain, st, attempt, (typeof outcome === 'object' && outcome !== null ? outcome : { ok: false }) as FailedOutcome, pending, now);
    } catch (error) {
      this.#halt(domain, st, error);
    }
  }

  #succeeded(domain: string, st: DomainState, attempt: number, o: SucceededOutcome, pending: Pending | undefined, now: number): void {
    const next = renewalTime({ notBefore: o.notBefore, notAfter: o.notAfter, ari: o.ari, now, random: this.#random });
    st.failures = 0;
    st.firstFailureAt = undefined;
    st.retryAt = undefined;
    st.caWaitUntil = undefined;
    st.gaveUp = false;
    this.#emit({ type: 'renewal:succeeded', domain, attempt, notBefore: new Date(o.notBefore).getTime(), notAfter: new Date(o.notAfter).getTime() });
    if (!this.#stillIdle(domain, st)) return;
    checkNotDueAtIssuance({ notBefore: o.notBefore, notAfter: o.notAfter, ari: o.ari, now, minIntervalMs: this.#minIntervalMs, domain });
    if (pending && !pending.fromCertificate) this.#place(domain, st, pending.at, 'manual');
    else this.#place(domain, st, next.at, next.reason, next);
  }

  #failed(domain: string, st: DomainState, attempt: number, o: FailedOutcome, pending: Pending | undefined, now: number): void {
    const retryAfterMs = typeof o.retryAfterMs === 'number' && Number.isFinite(o.retryAfterMs) ? Math.max(0, o.retryAfterMs) : undefined;
    const failures = st.failures + 1;
    const firstFailureAt = st.firstFailureAt ?? now;
    const decision = nextRetry({ failures, firstFailureAt, now, retryAfterMs });
    st.failures = failures;
    st.firstFailureAt = firstFailureAt;
    st.caWaitUntil = retryAfterMs === undefined ? undefined : now + retryAfterMs;
    let nextAt: number | undefined;
    let gaveUpNow = false;
    if ('at' in decision) {
      nextAt = decision.at;
    } else {
      gaveUpNow = !st.gaveUp;
      st.gaveUp = true;
      nextAt = this.#afterGiveUp === 'retry-daily' ? now + Math.max(GAVE_UP_RETRY_MS, retryAfterMs ?? 0) : undefined;
    }
    st.retryAt = nextAt;
    let reason: ScheduleReason = 'retry';
    let window: RenewalTime | undefined;
    if (pending) {
      const floor = pending.fromCertificate ? (nextAt ?? st.caWaitUntil ?? -Infinity) : (st.caWaitUntil ?? -Infinity);
      if (pending.at >= floor) {
        reason = pending.reason;
        window = pending.window;
      }
      nextAt = Math.max(pending.at, floor);
    }
    const failed: RenewalEvent = { type: 'renewal:failed', domain, attempt, nextAt };
    if (o.error !== undefined) Object.assign(failed, { error: o.error });
    this.#emit(failed);
    if (gaveUpNow) this.#emit({ type: 'renewal:gave-up', domain, attempts: failures, firstFailureAt, nextAt });
    if (!this.#stillIdle(domain, st)) return;
    if (nextAt === undefined) {
      this.#forget(domain, st);
      this.#arm();
      return;
    }
    this.#place(domain, st, nextAt, reason, window);
  }

  /** After a listener ran: the domain is still held, not rescheduled by the listener, and not running. */
  #stillIdle(domain: string, st: DomainState): boolean {
    return !this.#stopped && this.#states.get(domain) === st && st.slot === undefined && !st.running;
  }

  #halt(domain: string, st: DomainState, error: unknown): void {
    if (this.#stopped) return;
    this.#forget(domain, st);
    this.#arm();
    const e = error instanceof LeecError ? error : new LeecError(ErrorCode.internal, error instanceof Error ? error.message : String(error), { cause: error });
    this.#emit({ type: 'renewal:halted', domain, error: e });
  }

  #emit(event: RenewalEvent): void {
    if (!this.#onEvent) return;
    try {
      this.#onEvent(event);
    } catch {
      // A faulty listener must not stop renewals (documented in the module comment).
    }
  }
}

type SucceededOutcome = Extract<RenewOutcome, { ok: true }>;
type FailedOutcome = Extract<RenewOutcome, { ok: false }>;

interface Pending {
  at: number;
  reason: ScheduleReason;
  window?: RenewalTime | undefined;
  /** From scheduleCertificate/rebuild (dropped after a success), not from schedule(). */
  fromCertificate: boolean;
}

interface DomainState {
  /** The heap slot while scheduled; undefined while running or after leaving the schedule. */
  slot: Slot | undefined;
  reason: ScheduleReason;
  running: boolean;
  /** A schedule made while running, applied when the renewal ends. */
  pending: Pending | undefined;
  /** unschedule() while running: forget the domain when the renewal ends. */
  dropAfterRun: boolean;
  /** Consecutive failures in the current cycle; 0 after a success. */
  failures: number;
  firstFailureAt: number | undefined;
  /** The retry ladder's next attempt, within a failure cycle. */
  retryAt: number | undefined;
  /** The CA's last Retry-After, as an absolute time. */
  caWaitUntil: number | undefined;
  gaveUp: boolean;
}

function checkDomain(domain: unknown): asserts domain is string {
  if (typeof domain !== 'string' || domain.length === 0) {
    throw new InvalidInputError(ErrorCode.invalidDomain, `a domain must be a non-empty string, got ${typeof domain}`, { step: 'input', data: { reason: 'badDomain' } });
  }
}

function badOption(message: string, option: string): InvalidInputError {
  return new InvalidInputError(ErrorCode.invalidOption, message, { step: 'input', data: { option } });
}
