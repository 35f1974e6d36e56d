/**
 * A generic supervision tree with OTP semantics (stdlib's supervisor.erl taken literally, plus an optional
 * backoff). Children are anything with an `exited` promise and a `stop()`; a TreeSupervisor is one too, so trees
 * nest and a supervisor that gives up escalates to its parent as a crashed child. Knows nothing of ACME.
 */
import { AbortedError, ErrorCode, InvalidInputError, LeecError } from '../errors.js';
import { realClock, type Clock } from './clock.js';
import { RestartWindow, backoffMs, shouldRestart, type BackoffOptions, type ExitReason, type Restart, type Strategy } from './restart.js';

export type { ExitReason, Restart, Strategy } from './restart.js';

/** A running child, as its supervisor sees it. */
export interface ChildRef {
  readonly id: string;
  /** Settles exactly once, when the child has ended. */
  readonly exited: Promise<ExitReason>;
  /** Asks the child to end; `exited` tells when it has. */
  stop(reason: 'shutdown'): Promise<void>;
}

export interface ChildSpec {
  id: string;
  /** Starts one incarnation (1, 2, ...); resolves once the child is up. */
  start(ctx: { incarnation: number }): Promise<ChildRef>;
  /** Default 'permanent' (OTP). */
  restart?: Restart;
  /** Time granted to `stop()` before `kill()`; default 5000, or 'infinity' for a child supervisor (OTP). */
  shutdownMs?: number | 'infinity';
  /** OTP's brutal_kill, used after `shutdownMs` (or at once if it is 0). Without it the child is abandoned. */
  kill?(ref: ChildRef): Promise<void>;
}

export interface SupervisorOptions {
  /** Default 'one_for_one'. */
  strategy?: Strategy;
  /** Default 1 (OTP). */
  intensity?: number;
  /** Default 5000 (OTP's 5 s). */
  periodMs?: number;
  /** Not in OTP; default none (restart at once). `random` is for tests. */
  backoff?: BackoffOptions & { random?: () => number };
  clock?: Clock;
  /** Observer; an exception it throws is ignored. */
  onEvent?: (e: TreeEvent) => void;
}

export type ChildState = 'starting' | 'running' | 'restarting' | 'stopped';

export interface TreeEvent {
  type: 'child:started' | 'child:exited' | 'child:restarting' | 'supervisor:intensity';
  supervisorId: string;
  childId: string;
  incarnation: number;
  reason?: ExitReason;
  delayMs?: number;
}

export interface ChildInfo {
  id: string;
  incarnation: number;
  restarts: number;
  state: ChildState;
}

export interface TreeNode {
  id: string;
  kind: 'supervisor' | 'worker';
  state: ChildState;
  incarnation: number;
  restarts: number;
  children?: TreeNode[];
}

/** The supervisor gave up: more than `intensity` restarts within `periodMs` (supervisor.erl `add_restart/1`). */
export class SupervisorIntensityError extends LeecError {
  constructor(supervisorId: string, restarts: number, periodMs: number, cause?: unknown) {
    super('ERR_SUPERVISOR_INTENSITY', `supervisor ${supervisorId} reached its maximum restart intensity (${restarts} restarts within ${periodMs} ms)`, {
      data: { supervisorId, restarts, periodMs },
      cause,
    });
  }
}

interface Child {
  readonly spec: ChildSpec;
  readonly restart: Restart;
  incarnation: number;
  restarts: number;
  state: ChildState;
  ref: ChildRef | undefined;
  /** Set while the supervisor itself stops `ref`: its exit is then expected, not a failure. */
  stopping: boolean;
  startedAt: number;
  /** Restarts in a row without a full period of uptime; the backoff attempt. */
  consecutive: number;
  kind: 'supervisor' | 'worker';
}

interface PendingRestart {
  members: Set<Child>;
  handle: unknown;
}

type Phase = 'starting' | 'running' | 'stopping' | 'dead';

const noop = (): void => undefined;
const toError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));
const settledReason = (p: Promise<ExitReason>): Promise<ExitReason> => p.then((r) => r, (e: unknown) => ({ kind: 'crash', error: toError(e) }));
type Introspectable = ChildRef & { tree(): TreeNode };
const isSupervisorRef = (ref: ChildRef): ref is Introspectable => typeof (ref as { tree?: unknown }).tree === 'function';

/**
 * Every state change runs as one task on a serial queue, as a gen_server handles one message at a time: child
 * exits, restarts, startChild, terminateChild and shutdown never interleave.
 */
export class TreeSupervisor implements ChildRef {
  readonly id: string;
  readonly exited: Promise<ExitReason>;
  #resolveExited: (r: ExitReason) => void = noop;
  #phase: Phase = 'starting';
  #children: Child[] = []; // start order
  #queue: Promise<void> = Promise.resolve();
  #pending = new Set<PendingRestart>();
  readonly #strategy: Strategy;
  readonly #window: RestartWindow;
  readonly #backoff: SupervisorOptions['backoff'];
  readonly #clock: Clock;
  readonly #onEvent: ((e: TreeEvent) => void) | undefined;

  private constructor(id: string, opts: SupervisorOptions) {
    this.id = id;
    this.exited = new Promise<ExitReason>((resolve) => {
      this.#resolveExited = resolve;
    });
    this.#strategy = opts.strategy ?? 'one_for_one';
    this.#window = new RestartWindow(opts.intensity ?? 1, opts.periodMs ?? 5000);
    this.#backoff = opts.backoff;
    this.#clock = opts.clock ?? realClock;
    this.#onEvent = opts.onEvent;
  }

  /** Starts the children left to right. If one fails, stops the started ones in reverse order and rejects with its error. */
  static async start(id: string, children: ChildSpec[], opts: SupervisorOptions = {}): Promise<TreeSupervisor> {
    const sup = new TreeSupervisor(id, opts);
    await sup.#enqueue(() => sup.#init(children));
    return sup;
  }

  /** Adds and starts a dynamic child after the others (supervisor:start_child/2). */
  startChild(spec: ChildSpec): Promise<ChildRef> {
    return this.#enqueue(async () => {
      if (this.#phase !== 'running') {
        throw new AbortedError(ErrorCode.aborted, `supervisor ${this.id} is not running`, { data: { supervisorId: this.id, childId: spec.id } });
      }
      if (this.#find(spec.id)) {
        throw new InvalidInputError(ErrorCode.invalidOption, `supervisor ${this.id} already has a child ${spec.id}`, { data: { supervisorId: this.id, childId: spec.id } });
      }
      const c = this.#record(spec);
      this.#children.push(c);
      try {
        return await this.#startOne(c);
      } catch (e) {
        this.#remove(c);
        throw e;
      }
    });
  }

  /** Stops a child without restarting it and forgets it (terminate_child then delete_child). Unknown ids are a no-op. */
  terminateChild(id: string): Promise<void> {
    return this.#enqueue(async () => {
      const c = this.#find(id);
      if (!c) return;
      this.#forgetPending(c);
      await this.#stopChild(c);
      this.#remove(c);
    });
  }

  whichChildren(): ChildInfo[] {
    return this.#children.map((c) => ({ id: c.spec.id, incarnation: c.incarnation, restarts: c.restarts, state: c.state }));
  }

  /** This supervisor and its children, recursively. A parent overrides a node's incarnation and restarts with its own counts. */
  tree(): TreeNode {
    const state: ChildState = this.#phase === 'starting' ? 'starting' : this.#phase === 'running' ? 'running' : 'stopped';
    return { id: this.id, kind: 'supervisor', state, incarnation: 1, restarts: 0, children: this.#children.map((c) => this.#node(c)) };
  }

  /** Stops the children in reverse start order, then exits `{kind: 'shutdown'}`. Resolves once exited. */
  stop(_reason: 'shutdown' = 'shutdown'): Promise<void> {
    if (this.#phase === 'running') {
      this.#phase = 'stopping'; // from now on no exit is restarted
      this.#cancelPending();
      this.#enqueue(() => this.#shutdown({ kind: 'shutdown' })).catch((e: unknown) => this.#finish({ kind: 'crash', error: toError(e) }));
    }
    return this.exited.then(noop);
  }

  // ---- tasks (run on the queue) ----

  async #init(specs: ChildSpec[]): Promise<void> {
    const seen = new Set<string>();
    for (const spec of specs) {
      if (seen.has(spec.id)) {
        const err = new InvalidInputError(ErrorCode.invalidOption, `supervisor ${this.id} has two children named ${spec.id}`, { data: { supervisorId: this.id, childId: spec.id } });
        this.#finish({ kind: 'crash', error: err });
        throw err;
      }
      seen.add(spec.id);
    }
    for (const spec of specs) {
      const c = this.#record(spec);
      this.#children.push(c);
      try {
        await this.#startOne(c);
      } catch (e) {
        // supervisor.erl init_children/2: terminate the started ones, then fail.
        this.#remove(c);
        this.#phase = 'stopping';
        await this.#terminateAll();
        this.#finish({ kind: 'crash', error: toError(e) });
        throw e;
      }
    }
    this.#phase = 'running';
  }

  async #onExit(c: Child, ref: ChildRef, reason: ExitReason): Promise<void> {
    if (c.ref !== ref || c.stopping) return; // stale, or stopped by us (its exit was consumed there)
    c.ref = undefined;
    this.#emit('child:exited', c, { reason });
    if (this.#phase !== 'running') {
      c.state = 'stopped'; // exits while shutting down are not restarted
      return;
    }
    await this.#childDown(c, reason);
  }

  /** supervisor.erl `do_restart/3` then `restart/2`: decide, count in the window, apply the strategy. */
  async #childDown(c: Child, reason: ExitReason): Promise<void> {
    const now = this.#clock.now();
    if (now - c.startedAt >= this.#window.periodMs) c.consecutive = 0;
    if (!shouldRestart(c.restart, reason)) {
      if (c.restart === 'temporary') this.#remove(c);
      else c.state = 'stopped'; // del_child keeps the spec of a non-temporary child
      return;
    }
    const counted = !(reason.kind === 'crash' && reason.collateral === true);
    if (counted && this.#window.add(now) === 'exceeded') {
      c.state = 'stopped';
      this.#emit('supervisor:intensity', c, { reason });
      const cause = reason.kind === 'crash' ? reason.error : undefined;
      await this.#shutdown({ kind: 'crash', error: new SupervisorIntensityError(this.id, this.#window.count, this.#window.periodMs, cause) });
      return;
    }
    c.state = 'restarting';
    // restart/2 per strategy: one_for_all and rest_for_one first terminate the others of the group in reverse
    // start order (terminate_children/2, which drops temporary children), then start the group in start order.
    const group = this.#strategy === 'one_for_one' ? [c] : this.#strategy === 'one_for_all' ? [...this.#children] : this.#children.slice(this.#children.indexOf(c));
    for (const other of [...group].reverse()) {
      if (other === c) continue;
      await this.#stopChild(other);
      if (this.#phase !== 'running') return; // the shutdown task that follows stops the rest
      if (other.restart === 'temporary') this.#remove(other);
      else other.state = 'restarting';
    }
    await this.#schedule(group.filter((m) => this.#children.includes(m)), c);
  }

  /** Restarts the group now, or after the backoff delay through the clock. */
  async #schedule(group: Child[], failed: Child): Promise<void> {
    const members = new Set(group);
    for (const p of this.#pending) {
      if ([...p.members].some((m) => members.has(m))) {
        this.#clock.clearTimeout(p.handle);
        this.#pending.delete(p);
        for (const m of p.members) members.add(m);
      }
    }
    const delayMs = this.#backoff ? backoffMs(failed.consecutive, this.#backoff, this.#backoff.random) : 0;
    failed.consecutive += 1;
    for (const m of this.#ordered(members)) this.#emit('child:restarting', m, { delayMs });
    if (!this.#backoff) {
      await this.#restartGroup(members);
      return;
    }
    const pending: PendingRestart = { members, handle: undefined };
    pending.handle = this.#clock.setTimeout(() => {
      if (!this.#pending.delete(pending)) return;
      this.#enqueue(() => this.#restartGroup(pending.members)).catch((e: unknown) => this.#internalFailure(e));
    }, delayMs);
    this.#pending.add(pending);
  }

  async #restartGroup(members: Set<Child>): Promise<void> {
    for (const c of this.#ordered(members)) {
      if (this.#phase !== 'running') return;
      if (c.state !== 'restarting') continue;
      c.restarts += 1;
      try {
        await this.#startOne(c);
      } catch (e) {
        // supervisor.erl try_again_restart: back through the queue, counted as one more restart.
        c.state = 'restarting';
        const reason: ExitReason = { kind: 'crash', error: toError(e) };
        this.#emit('child:exited', c, { reason });
        this.#enqueue(async () => {
          if (this.#phase === 'running' && this.#children.includes(c) && c.state === 'restarting') await this.#childDown(c, reason);
        }).catch((err: unknown) => this.#internalFailure(err));
        return;
      }
    }
  }

  async #shutdown(reason: ExitReason): Promise<void> {
    if (this.#phase === 'dead') return;
    this.#phase = 'stopping';
    this.#cancelPending();
    await this.#terminateAll();
    this.#finish(reason);
  }

  // ---- helpers ----

  async #startOne(c: Child): Promise<ChildRef> {
    c.state = 'starting';
    c.stopping = false;
    c.incarnation += 1;
    c.startedAt = this.#clock.now();
    const ref = await c.spec.start({ incarnation: c.incarnation });
    c.ref = ref;
    c.state = 'running';
    c.kind = isSupervisorRef(ref) ? 'supervisor' : 'worker';
    settledReason(ref.exited)
      .then((reason) => this.#enqueue(() => this.#onExit(c, ref, reason)))
      .catch((e: unknown) => this.#internalFailure(e));
    this.#emit('child:started', c);
    return ref;
  }

  /** Stops one child and waits for it: supervisor.erl `shutdown/1` (shutdown, then kill after the time). */
  async #stopChild(c: Child): Promise<void> {
    const ref = c.ref;
    if (!ref) return;
    c.stopping = true;
    const reason = await this.#shutdownRef(c, ref);
    if (c.ref === ref) c.ref = undefined;
    this.#emit('child:exited', c, { reason });
  }

  async #shutdownRef(c: Child, ref: ChildRef): Promise<ExitReason> {
    const exited = settledReason(ref.exited);
    const ms = c.spec.shutdownMs ?? (c.kind === 'supervisor' ? 'infinity' : 5000);
    const kill = async (): Promise<ExitReason> => {
      try {
        await c.spec.kill?.(ref);
      } catch {
        // nothing more can be done; the child is abandoned
      }
      return { kind: 'killed' };
    };
    if (ms !== 'infinity' && ms <= 0 && c.spec.kill) return kill(); // brutal_kill
    try {
      Promise.resolve(ref.stop('shutdown')).catch(noop);
    } catch {
      // a stop() that throws is treated as one that is ignored
    }
    if (ms === 'infinity') return exited;
    let handle: unknown;
    const timedOut = new Promise<undefined>((resolve) => {
      handle = this.#clock.setTimeout(() => resolve(undefined), ms);
    });
    const first = await Promise.race([exited, timedOut]);
    this.#clock.clearTimeout(handle);
    return first ?? kill();
  }

  async #terminateAll(): Promise<void> {
    for (const c of [...this.#children].reverse()) {
      await this.#stopChild(c);
      c.state = 'stopped';
    }
  }

  #record(spec: ChildSpec): Child {
    return {
      spec,
      restart: spec.restart ?? 'permanent',
      incarnation: 0,
      restarts: 0,
      state: 'starting',
      ref: undefined,
      stopping: false,
      startedAt: this.#clock.now(),
      consecutive: 0,
      kind: 'worker',
    };
  }

  #find(id: string): Child | undefined {
    return this.#children.find((c) => c.spec.id === id);
  }

  #remove(c: Child): void {
    const i = this.#children.indexOf(c);
    if (i >= 0) this.#children.splice(i, 1);
    this.#forgetPending(c);
  }

  #ordered(members: Set<Child>): Child[] {
    return this.#children.filter((c) => members.has(c));
  }

  #forgetPending(c: Child): void {
    for (const p of this.#pending) {
      p.members.delete(c);
      if (p.members.size === 0) {
        this.#clock.clearTimeout(p.handle);
        this.#pending.delete(p);
      }
    }
  }

  #cancelPending(): void {
    for (const p of this.#pending) this.#clock.clearTimeout(p.handle);
    this.#pending.clear();
  }

  #node(c: Child): TreeNode {
    const node: TreeNode = { id: c.spec.id, kind: c.kind, state: c.state, incarnation: c.incarnation, restarts: c.restarts };
    if (c.kind === 'supervisor') node.children = c.ref && isSupervisorRef(c.ref) ? (c.ref.tree().children ?? []) : [];
    return node;
  }

  #emit(type: TreeEvent['type'], c: Child, extra: { reason?: ExitReason; delayMs?: number } = {}): void {
    if (!this.#onEvent) return;
    try {
      this.#onEvent({ type, supervisorId: this.id, childId: c.spec.id, incarnation: c.incarnation, ...extra });
    } catch {
      // an observer must not break supervision
    }
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.then(noop, noop);
    return run;
  }

  #finish(reason: ExitReason): void {
    this.#phase = 'dead';
    this.#resolveExited(reason); // later calls are no-ops: exited settles once
  }

  /** A bug in this module: behave like a crashed gen_server, stopping the children and exiting crash. */
  #internalFailure(e: unknown): void {
    if (this.#phase === 'dead') return;
    this.#phase = 'stopping';
    this.#enqueue(() => this.#shutdown({ kind: 'crash', error: toError(e) })).catch((err: unknown) => this.#finish({ kind: 'crash', error: toError(err) }));
  }
}
