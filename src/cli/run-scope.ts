/**
 * The lifetime of one CLI command: everything it started (Pebble, the supervisor, servers, progress
 * bars) is stopped once, in reverse order, on success, on failure and on SIGINT/SIGTERM. Signal
 * listeners are installed only while `run` is running.
 */
import { constants } from 'node:os';
import { AbortedError, ErrorCode } from '../errors.js';

/** Grace for stopping everything after a signal before the process exits anyway. */
const FORCE_EXIT_MS = 15_000;

/** The command was interrupted by a signal; everything it started has been stopped. */
export class InterruptedError extends AbortedError {
  /** 128 + the signal number, as shells report it (130 for SIGINT). */
  readonly exitCode: number;

  constructor(signal: NodeJS.Signals) {
    super(ErrorCode.aborted, `interrupted by ${signal}; everything leec started was stopped`, { data: { signal } });
    this.exitCode = exitCodeForSignal(signal);
  }
}

function exitCodeForSignal(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 2);
}

/** Options of a {@link RunScope}. */
export interface RunScopeOptions {
  /** Told when the first signal arrives, before stopping begins. */
  onSignal?: (signal: NodeJS.Signals) => void;
  /** Told when stopping one resource failed (stopping goes on with the others). */
  warn?: (line: string) => void;
}

interface Closer {
  what: string;
  close: () => unknown;
}

/**
 * Owns what a command starts. `defer` registers a stop function; `run` runs the command, traps
 * SIGINT/SIGTERM (first: stop everything and fail with InterruptedError; second: exit at once) and
 * always stops everything before it returns.
 *
 * @example
 * const scope = new RunScope();
 * await scope.run(async () => { const p = await startPebble(...); scope.defer('pebble', () => p.stop()); ... });
 */
export class RunScope {
  readonly #closers: Closer[] = [];
  readonly #late: Array<Promise<void>> = [];
  readonly #opts: RunScopeOptions;
  readonly #abort = new AbortController();
  #signal: NodeJS.Signals | undefined;
  #closing: Promise<void> | undefined;

  constructor(opts: RunScopeOptions = {}) {
    this.#opts = opts;
  }

  /** True once a signal interrupted the command. */
  get interrupted(): boolean {
    return this.#signal !== undefined;
  }

  /** Aborted when a signal interrupts the command. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /**
   * Registers `close` to run when the scope closes (last registered, first stopped). Registered after
   * closing began (a start that finished after an interrupt), it runs at once.
   */
  defer(what: string, close: () => unknown): void {
    const closer = { what, close };
    if (this.#closing === undefined) this.#closers.push(closer);
    else this.#late.push(this.#closeOne(closer));
  }

  /** Throws InterruptedError when a signal interrupted the command (call between steps). */
  check(): void {
    if (this.#signal !== undefined) throw new InterruptedError(this.#signal);
  }

  /** Stops everything registered, once; later calls return the same promise. Never rejects. */
  async close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    await this.#closing;
    await Promise.all(this.#late);
  }

  /**
   * Runs `fn` with SIGINT/SIGTERM trapped, then closes the scope. Rejects with InterruptedError when a
   * signal came, whatever `fn` did meanwhile.
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    let rejectInterrupted: (e: unknown) => void = () => undefined;
    const interrupted = new Promise<never>((_, reject) => {
      rejectInterrupted = reject;
    });
    interrupted.catch(() => undefined);
    const onSignal = (signal: NodeJS.Signals): void => {
      if (this.#signal !== undefined) process.exit(exitCodeForSignal(this.#signal)); // second signal: no more waiting
      this.#signal = signal;
      this.#opts.onSignal?.(signal);
      this.#abort.abort();
      rejectInterrupted(new InterruptedError(signal));
      setTimeout(() => process.exit(exitCodeForSignal(signal)), FORCE_EXIT_MS).unref();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const work = fn();
      work.catch(() => undefined); // it may settle after an interrupt won the race
      const value = await Promise.race([work, interrupted]);
      this.check();
      return value;
    } catch (err) {
      if (this.#signal !== undefined) throw new InterruptedError(this.#signal);
      throw err;
    } finally {
      await this.close();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }

  async #closeAll(): Promise<void> {
    for (let c = this.#closers.pop(); c !== undefined; c = this.#closers.pop()) await this.#closeOne(c);
  }

  async #closeOne(c: Closer): Promise<void> {
    try {
      await c.close();
    } catch (err) {
      this.#opts.warn?.(`leec: warning: stopping ${c.what} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
