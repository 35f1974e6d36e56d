/**
 * The supervisor-wide gate every certificate job passes before its ACME order starts (LEEC's "task ring",
 * done properly). It queues work, never fails it, so the CA's rate limits (rate-limit-presets.ts) are never
 * exceeded, and it says when each queued job should start.
 *
 * A job names an account and its certificate names. It may start when
 * - every bucket it will use has a token: a new order for its account; a certificate for each registered
 *   domain of its names (a job spanning two registered domains uses both); a certificate for its exact
 *   name set (lower-cased, sorted); and, per host, room for one more failed validation;
 * - and a concurrency slot is free (`maxConcurrent`, LEEC's "at most maxConcurrentAgents agents run").
 *
 * Order. Rate limits are checked first, concurrency second, so a job held by its domain's limit never takes
 * a slot. A job that cannot start is parked on the first bucket that blocks it, and each bucket releases its
 * parked jobs in order (priority, higher first, then arrival): FIFO per blocker. A job parked on one bucket
 * does not hold back jobs that do not need that bucket, so there is no head-of-line blocking across
 * domains. A new job never overtakes an older one parked on a bucket they share.
 *
 * Accounting. When a job passes the rate checks it reserves one token in each of its buckets; the
 * reservation counts as used in every window while the job waits for a slot and runs. On release the new
 * order, certificate and duplicate tokens become events at the release time (never earlier than when the CA
 * counted them, so the windows are, if anything, longer than the CA's); a certificate and duplicate token
 * go back only when the caller says no certificate was issued. A host's failed-validation token becomes an
 * event when that host failed, and goes back otherwise; as every running job naming a host holds one,
 * concurrent jobs cannot overshoot that limit either.
 *
 * Timers. The gate sets at most one timer, for the earliest moment a parked job's bucket regains a token
 * (releases wake it otherwise). `stop()` clears it and rejects every queued job.
 *
 * Pure and clock-driven: no I/O, time only through the injected Clock.
 */
import type { Clock } from '../runtime/clock.js';
import { AbortedError, ErrorCode, InvalidInputError } from '../errors.js';
import { TokenBucket, type WindowLimit } from './token-bucket.js';
import { UNLIMITED_LIMITS, validateRateLimits, type RateLimits } from './rate-limit-presets.js';
import { hostOf, registeredDomain } from './registered-domain.js';
import { Heap } from './heap.js';

/** What holds a queued job back. */
export type GateBlocker = 'concurrency' | 'newOrders' | 'registeredDomain' | 'duplicate' | 'failedValidations';

type LimitKind = Exclude<GateBlocker, 'concurrency'>;

export interface GateJob {
  /** The caller's job id, echoed in events and errors. */
  id: string;
  /** The ACME account (its URL or any stable id): new orders and failed validations are counted per account. */
  account: string;
  /** The certificate's names (DNS names, `*.` wildcards, IP addresses). */
  names: readonly string[];
  /** Higher starts first among jobs blocked by the same thing; default 0. */
  priority?: number;
}

export interface GateOutcome {
  /** The job got its certificate. */
  ok: boolean;
  /** Hosts whose validation failed (RFC 8555 §7.5.1 `invalid` authorizations); a wildcard counts as its base name. */
  failedHosts?: readonly string[];
  /**
   * Only read when `ok` is false: `false` gives the certificate and duplicate tokens back, for a job that
   * failed before finalize (RFC 8555 §7.4), so issued nothing. Left out, a failed job keeps them: a failure
   * after finalize (download, store) may still have issued a certificate.
   */
  certificateIssued?: boolean;
}

export interface GateTicket {
  readonly id: string;
  /** Clock time at which the job was let through. */
  readonly startedAt: number;
  /** Frees the concurrency slot and settles the tokens. Call once; later calls are ignored. */
  release(outcome: GateOutcome): void;
}

export interface GateEstimate {
  /**
   * When the job would start if queued now, from the buckets only: every running or queued job is assumed to
   * finish the moment it starts (so its tokens come back one window after now or after its start). Exact
   * when jobs are quick and slots are free; otherwise a lower bound. `undefined` when it depends on running
   * jobs ending (all slots busy, or a host's failed-validation room held by running jobs).
   */
  startsAt: number | undefined;
  /** The limit that decides `startsAt`; `undefined` when the job would start now. */
  blockedBy: GateBlocker | undefined;
  /** That limit's key: the account, registered domain, sorted name set, or host; `undefined` for concurrency. */
  key: string | undefined;
}

export interface GateQueuedEvent {
  id: string;
  startsAt: number | undefined;
  blockedBy: GateBlocker;
  key: string | undefined;
}

export interface RateLimitGateOptions {
  clock: Clock;
  /** Default: no rate limit (`UNLIMITED_LIMITS`). */
  limits?: RateLimits;
  /** Jobs running at once; a whole number >= 1 or Infinity (the default). */
  maxConcurrent?: number;
  /**
   * Called once for each job that cannot start at once, right after `acquire`, with the estimate (see
   * `GateEstimate`). Exceptions thrown by it are ignored.
   */
  onQueued?: (event: GateQueuedEvent) => void;
}

/** Node's timers take at most 2^31 - 1 ms; a longer wait re-arms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface LaneKey {
  readonly id: string;
  readonly kind: LimitKind;
  readonly label: string;
  readonly limit: WindowLimit;
}

/** One rate-limited key: its bucket and the jobs parked on it. */
interface Lane {
  readonly id: string;
  readonly kind: LimitKind;
  readonly label: string;
  readonly bucket: TokenBucket;
  readonly parked: Heap<Waiter>;
  /** Queued (not yet reserved) jobs that need this lane, by priority: the estimate's "jobs ahead". */
  readonly demand: Map<number, number>;
  /** The time of this lane's pending wake-up entry, if any. */
  wakeAt: number | undefined;
}

interface Waiter {
  readonly id: string;
  readonly seq: number;
  readonly priority: number;
  readonly account: string;
  readonly lanes: readonly Lane[];
  /** queued: parked on a lane; ready: tokens reserved, waiting for a slot; running: let through. */
  state: 'queued' | 'ready' | 'running' | 'done' | 'cancelled';
  parkedOn: Lane | undefined;
  readonly resolve: (ticket: GateTicket) => void;
  readonly reject: (error: Error) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface WakeEntry {
  readonly at: number;
  readonly lane: Lane;
}

export class RateLimitGate {
  readonly #clock: Clock;
  readonly #limits: Readonly<RateLimits>;
  readonly #maxConcurrent: number;
  readonly #onQueued: ((event: GateQueuedEvent) => void) | undefined;
  readonly #lanes = new Map<string, Lane>();
  readonly #ready = new Heap<Waiter>(before);
  readonly #wake = new Heap<WakeEntry>((a, b) => a.at < b.at);
  readonly #dirty = new Set<Lane>();
  #running = 0;
  #waiting = 0;
  #seq = 0;
  #timer: unknown = undefined;
  #timerAt: number | undefined = undefined;
  #pumping = false;
  #stopped = false;
  #opsSinceSweep = 0;

  constructor(options: RateLimitGateOptions) {
    if (typeof options !== 'object' || options === null || typeof options.clock?.now !== 'function') {
      throw new InvalidInputError(ErrorCode.invalidOption, 'the rate-limit gate needs a clock', { step: 'input', data: { option: 'clock' } });
    }
    const max = options.maxConcurrent ?? Infinity;
    if (!(max === Infinity || (Number.isSafeInteger(max) && max >= 1))) {
      throw new InvalidInputError(ErrorCode.invalidOption, `maxConcurrent must be a whole number >= 1, got ${String(max)}`, {
        step: 'input',
        data: { option: 'maxConcurrent' },
      });
    }
    this.#clock = options.clock;
    this.#limits = validateRateLimits(options.limits ?? UNLIMITED_LIMITS);
    this.#maxConcurrent = max;
    this.#onQueued = options.onQueued;
  }

  /** Jobs let through and not yet released. */
  get running(): number {
    return this.#running;
  }

  /** Jobs waiting (parked on a limit, or for a slot). */
  get queued(): number {
    return this.#waiting;
  }

  /**
   * Resolves when the job may start (see the module comment), with the ticket to release when it ends.
   * Never fails for a rate limit. Rejects with `InvalidInputError` for a malformed job, and with
   * `AbortedError` when `signal` aborts while it waits or the gate is stopped.
   */
  acquire(job: GateJob, signal?: AbortSignal): Promise<GateTicket> {
    if (this.#stopped) return Promise.reject(stoppedError(jobIdOf(job)));
    let keys: LaneKey[];
    let priority: number;
    try {
      ({ keys, priority } = this.#describe(job));
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(abortedError(job.id));
    return new Promise<GateTicket>((resolve, reject) => {
      const lanes = keys.map((k) => this.#lane(k));
      const waiter: Waiter = {
        id: job.id,
        seq: ++this.#seq,
        priority,
        account: job.account,
        lanes,
        state: 'queued',
        parkedOn: undefined,
        resolve,
        reject,
        signal,
        onAbort: undefined,
      };
      for (const lane of lanes) addDemand(lane, priority, 1);
      this.#waiting++;
      if (signal) {
        waiter.onAbort = () => this.#abort(waiter);
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#evaluate(waiter);
      this.#opsSinceSweep++;
      this.#pump();
      if (waiter.state === 'queued' || waiter.state === 'ready') this.#emitQueued(waiter);
    });
  }

  /**
   * When `job` would start if queued now, computed from the buckets only (running jobs' end is unknown):
   * see `GateEstimate`. Throws `InvalidInputError` for a malformed job, `AbortedError` once stopped.
   */
  estimate(job: GateJob): GateEstimate {
    if (this.#stopped) throw stoppedError(jobIdOf(job));
    const { keys, priority } = this.#describe(job);
    const lanes = keys.map((k) => this.#lanes.get(k.id) ?? k);
    const projection = this.#project(lanes, priority, false);
    if (projection.startsAt !== undefined && projection.startsAt > this.#clock.now()) return projection;
    if (projection.blockedBy !== undefined) return projection; // blocked, and only running jobs can free it
    if (this.#running >= this.#maxConcurrent) return { startsAt: undefined, blockedBy: 'concurrency', key: undefined };
    return { startsAt: this.#clock.now(), blockedBy: undefined, key: undefined };
  }

  /**
   * Rejects every queued job with `AbortedError` and clears the timer; afterwards no timer is left and
   * `acquire` rejects. Tickets already given out stay valid: their `release` only settles the tokens.
   */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#clearTimer();
    const waiting = [...this.#ready.drain()];
    for (const lane of this.#lanes.values()) waiting.push(...lane.parked.drain());
    this.#wake.drain();
    this.#dirty.clear();
    for (const w of waiting) {
      if (w.state === 'ready') for (const lane of w.lanes) lane.bucket.refund(1);
      else if (w.state === 'queued') for (const lane of w.lanes) addDemand(lane, w.priority, -1);
      else continue;
      w.state = 'cancelled';
      w.parkedOn = undefined;
      this.#detach(w);
      w.reject(stoppedError(w.id));
    }
    for (const lane of this.#lanes.values()) lane.wakeAt = undefined;
    this.#waiting = 0;
  }

  // ---- admission -------------------------------------------------------------------------------------

  /** Reserves the job's tokens and readies it, or parks it on the first lane that holds it back. */
  #evaluate(w: Waiter): void {
    for (const lane of w.lanes) {
      const head = this.#peekParked(lane);
      if ((head !== undefined && head !== w && before(head, w)) || lane.bucket.available() < 1) {
        this.#park(w, lane);
        return;
      }
    }
    for (const lane of w.lanes) {
      lane.bucket.reserve(1);
      addDemand(lane, w.priority, -1);
    }
    w.state = 'ready';
    this.#ready.push(w);
  }

  #park(w: Waiter, lane: Lane): void {
    w.state = 'queued';
    w.parkedOn = lane;
    lane.parked.push(w);
    // Parked behind an older job while the lane has room: that job is due for a look.
    if (lane.bucket.available() >= 1) this.#dirty.add(lane);
    else this.#scheduleWake(lane);
  }

  /** Lets parked jobs through, lane by lane, then fills the free slots; re-arms the single timer. */
  #pump(): void {
    if (this.#stopped || this.#pumping) return;
    this.#pumping = true;
    try {
      do {
        this.#wakeDue();
        for (const lane of this.#dirty) {
          this.#dirty.delete(lane);
          this.#drain(lane);
        }
        this.#startReady();
      } while (this.#dirty.size > 0);
      this.#sweepIdleLanes();
    } finally {
      this.#pumping = false;
    }
    this.#armTimer();
  }

  /** Re-evaluates the lane's parked jobs in order while it has a token. */
  #drain(lane: Lane): void {
    for (;;) {
      const head = this.#peekParked(lane);
      if (head === undefined) return;
      if (lane.bucket.available() < 1) {
        this.#scheduleWake(lane);
        return;
      }
      lane.parked.pop();
      head.parkedOn = undefined;
      this.#evaluate(head);
    }
  }

  #startReady(): void {
    while (this.#running < this.#maxConcurrent) {
      const w = this.#ready.peek();
      if (w === undefined) return;
      this.#ready.pop();
      if (w.state !== 'ready') continue; // aborted while waiting for a slot
      this.#start(w);
    }
  }

  #start(w: Waiter): void {
    this.#running++;
    this.#waiting--;
    w.state = 'running';
    this.#detach(w);
    const ticket: GateTicket = Object.freeze({
      id: w.id,
      startedAt: this.#clock.now(),
      release: (outcome: GateOutcome): void => this.#release(w, outcome),
    });
    w.resolve(ticket);
  }

  #release(w: Waiter, outcome: GateOutcome): void {
    if (w.state !== 'running') return;
    if (typeof outcome !== 'object' || outcome === null || typeof outcome.ok !== 'boolean') {
      throw new InvalidInputError(ErrorCode.invalidOption, 'release needs an outcome { ok: boolean }', { step: 'input', data: { jobId: w.id } });
    }
    const failed = new Set((outcome.failedHosts ?? []).map((h) => hostOf(h)));
    w.state = 'done';
    this.#running--;
    const keepCertificates = outcome.ok || outcome.certificateIssued !== false;
    for (const lane of w.lanes) {
      const commit =
        lane.kind === 'failedValidations' ? failed.delete(lane.label) : lane.kind === 'newOrders' ? true : keepCertificates;
      if (commit) lane.bucket.commit(1);
      else lane.bucket.refund(1);
      this.#dirty.add(lane);
    }
    // Failures for hosts the job did not name (or with no room held) still count at the CA.
    const limit = this.#limits.failedValidationsPerHost;
    if (limit !== undefined) {
      for (const host of failed) this.#lane(failureKey(w.account, host, limit)).bucket.record(1);
    }
    this.#opsSinceSweep++;
    this.#pump();
  }

  #abort(w: Waiter): void {
    if (w.state === 'queued') {
      for (const lane of w.lanes) addDemand(lane, w.priority, -1);
      if (w.parkedOn) this.#dirty.add(w.parkedOn); // the next in line may be able to go
    } else if (w.state === 'ready') {
      for (const lane of w.lanes) {
        lane.bucket.refund(1);
        this.#dirty.add(lane);
      }
    } else {
      return;
    }
    this.#waiting--;
    w.state = 'cancelled'; // dropped lazily from the heap it sits in
    w.parkedOn = undefined;
    this.#detach(w);
    w.reject(abortedError(w.id));
    this.#pump();
  }

  #detach(w: Waiter): void {
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
    w.onAbort = undefined;
  }

  /** The lane's first parked job still waiting, dropping aborted ones. */
  #peekParked(lane: Lane): Waiter | undefined {
    for (;;) {
      const head = lane.parked.peek();
      if (head === undefined || (head.state === 'queued' && head.parkedOn === lane)) return head;
      lane.parked.pop();
    }
  }

  // ---- the single timer -----------------------------------------------------------------------------

  #scheduleWake(lane: Lane): void {
    const at = lane.bucket.nextAvailableAt(1);
    if (at === undefined) return; // only a release can free it, and a release marks the lane dirty
    if (lane.wakeAt === undefined || at < lane.wakeAt) {
      lane.wakeAt = at;
      this.#wake.push({ at, lane });
    }
  }

  #wakeDue(): void {
    const now = this.#clock.now();
    for (let top = this.#wake.peek(); top !== undefined && top.at <= now; top = this.#wake.peek()) {
      this.#wake.pop();
      if (top.lane.wakeAt === top.at) top.lane.wakeAt = undefined;
      this.#dirty.add(top.lane);
    }
  }

  #armTimer(): void {
    let top = this.#wake.peek();
    while (top !== undefined && this.#peekParked(top.lane) === undefined) {
      this.#wake.pop();
      if (top.lane.wakeAt === top.at) top.lane.wakeAt = undefined;
      top = this.#wake.peek();
    }
    const at = top?.at;
    if (at === this.#timerAt) return;
    this.#clearTimer();
    if (at === undefined) return;
    const delay = Math.min(Math.max(0, at - this.#clock.now()), MAX_TIMER_MS);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = undefined;
      this.#pump();
    }, delay);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = undefined;
  }

  // ---- estimates -------------------------------------------------------------------------------------

  /**
   * The latest of the lanes' projected times (TokenBucket.projectedAt): each lane's queued jobs ahead take
   * its tokens first. A failed-validation lane assumes running and queued jobs succeed. `blockedBy` without
   * a time: a lane with no token whose wait depends on running jobs.
   */
  #project(lanes: ReadonlyArray<Lane | LaneKey>, priority: number, selfQueued: boolean): GateEstimate {
    const now = this.#clock.now();
    let best: GateEstimate = { startsAt: now, blockedBy: undefined, key: undefined };
    let stuck: Lane | undefined;
    for (const lane of lanes) {
      if (!('bucket' in lane)) continue; // no lane yet: nothing counted against it
      const at =
        lane.kind === 'failedValidations'
          ? lane.bucket.projectedAt(1, 'refund')
          : lane.bucket.projectedAt(demandAhead(lane, priority) - (selfQueued ? 1 : 0) + 1, 'commit');
      if (at > best.startsAt!) best = { startsAt: at, blockedBy: lane.kind, key: lane.label };
      if (stuck === undefined && lane.bucket.available() < 1) stuck = lane;
    }
    if (best.startsAt! <= now && stuck !== undefined) return { startsAt: undefined, blockedBy: stuck.kind, key: stuck.label };
    return best;
  }

  #emitQueued(w: Waiter): void {
    if (this.#onQueued === undefined) return;
    let event: GateQueuedEvent;
    if (w.state === 'ready') {
      event = { id: w.id, startsAt: undefined, blockedBy: 'concurrency', key: undefined };
    } else {
      const p = this.#project(w.lanes, w.priority, true);
      const lane = w.parkedOn!;
      event =
        p.startsAt !== undefined && p.startsAt > this.#clock.now() && p.blockedBy !== undefined
          ? { id: w.id, startsAt: p.startsAt, blockedBy: p.blockedBy, key: p.key }
          : { id: w.id, startsAt: undefined, blockedBy: lane.kind, key: lane.label };
    }
    try {
      this.#onQueued(event);
    } catch {
      // A listener's failure must not break the queue.
    }
  }

  // ---- keys and lanes --------------------------------------------------------------------------------

  /** Validates the job and lists its lanes, narrowest first: hosts, name set, registered domains, account. */
  #describe(job: GateJob): { keys: LaneKey[]; priority: number } {
    if (typeof job !== 'object' || job === null) throw badJob('a job must be an object', 'job');
    if (typeof job.id !== 'string' || job.id === '') throw badJob('job.id must be a non-empty string', 'job.id');
    if (typeof job.account !== 'string' || job.account === '') throw badJob('job.account must be a non-empty string', 'job.account');
    if (!Array.isArray(job.names) || job.names.length === 0) throw badJob('job.names must be a non-empty array', 'job.names');
    const priority = job.priority ?? 0;
    if (typeof priority !== 'number' || !Number.isFinite(priority)) throw badJob('job.priority must be a finite number', 'job.priority');

    const limits = this.#limits;
    const keys: LaneKey[] = [];
    const names = [...new Set(job.names.map((n) => (isWildcard(n) ? '*.' : '') + hostOf(n)))].sort();
    const domains = [...new Set(names.map((n) => registeredDomain(n)))];
    if (limits.failedValidationsPerHost) {
      for (const host of new Set(names.map((n) => hostOf(n)))) keys.push(failureKey(job.account, host, limits.failedValidationsPerHost));
    }
    if (limits.duplicateCertificates) {
      const set = names.join(',');
      keys.push({ id: `duplicate\u0000${set}`, kind: 'duplicate', label: set, limit: limits.duplicateCertificates });
    }
    if (limits.certificatesPerRegisteredDomain) {
      for (const d of domains) {
        keys.push({ id: `registeredDomain\u0000${d}`, kind: 'registeredDomain', label: d, limit: limits.certificatesPerRegisteredDomain });
      }
    }
    if (limits.newOrdersPerAccount) {
      keys.push({ id: `newOrders\u0000${job.account}`, kind: 'newOrders', label: job.account, limit: limits.newOrdersPerAccount });
    }
    return { keys, priority };
  }

  #lane(key: LaneKey): Lane {
    let lane = this.#lanes.get(key.id);
    if (lane === undefined) {
      lane = {
        id: key.id,
        kind: key.kind,
        label: key.label,
        bucket: new TokenBucket(this.#clock, key.limit),
        parked: new Heap<Waiter>(before),
        demand: new Map(),
        wakeAt: undefined,
      };
      this.#lanes.set(key.id, lane);
    }
    return lane;
  }

  /** Forgets lanes with nothing left to remember, every so often (amortized O(1) per job). */
  #sweepIdleLanes(): void {
    if (this.#opsSinceSweep < Math.max(1024, this.#lanes.size)) return;
    this.#opsSinceSweep = 0;
    for (const [id, lane] of this.#lanes) {
      if (lane.demand.size === 0 && this.#peekParked(lane) === undefined && lane.bucket.isIdle()) this.#lanes.delete(id);
    }
  }
}

function failureKey(account: string, host: string, limit: WindowLimit): LaneKey {
  return { id: `failedValidations\u0000${account}\u0000${host}`, kind: 'failedValidations', label: host, limit };
}

function isWildcard(name: string): boolean {
  return typeof name === 'string' && name.trim().startsWith('*.');
}

/** Queue order: higher priority first, then arrival. */
function before(a: Waiter, b: Waiter): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);
}

function addDemand(lane: Lane, priority: number, delta: number): void {
  const n = (lane.demand.get(priority) ?? 0) + delta;
  if (n > 0) lane.demand.set(priority, n);
  else lane.demand.delete(priority);
}

/** Queued jobs needing the lane at this priority or higher (the ones that go first). */
function demandAhead(lane: Lane, priority: number): number {
  let n = 0;
  for (const [p, count] of lane.demand) if (p >= priority) n += count;
  return n;
}

function jobIdOf(job: unknown): string {
  const id = (job as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : '';
}

function badJob(message: string, option: string): InvalidInputError {
  return new InvalidInputError(ErrorCode.invalidOption, message, { step: 'input', data: { option } });
}

function abortedError(jobId: string): AbortedError {
  return new AbortedError(ErrorCode.aborted, `job ${jobId} was aborted while waiting at the rate-limit gate`, {
    step: 'newOrder',
    data: { jobId },
  });
}

function stoppedError(jobId: string): AbortedError {
  return new AbortedError(ErrorCode.aborted, `the rate-limit gate was stopped before job ${jobId} could start`, {
    step: 'newOrder',
    data: { jobId },
  });
}
