/**
 * The worker threads that host actors: a piscina pool with, by default, one task per thread at a time
 * (`concurrentTasksPerWorker: 1`, so a crash takes down one actor only). `maxThreads` bounds the threads;
 * piscina's queue holds the rest. Idle threads exit, so no job means no thread.
 *
 * With `tasksPerThread` > 1 several asynchronous actors share a thread. piscina never gives a second task
 * to a worker that runs an abortable one, so shared tasks are run without piscina's signal: the caller
 * ends one by terminating its thread (`terminateThread`), which ends every task on that thread.
 * Generic: it knows nothing of ACME; the caller names the worker entry file.
 */
import type { Transferable } from 'node:worker_threads';
import { Piscina } from 'piscina';

export interface WorkerPoolOptions {
  /** file: URL of the compiled worker entry (its default export is the task function). */
  filename: string;
  /** Threads at most. */
  maxThreads: number;
  /** Tasks a thread runs at once (default 1). */
  tasksPerThread?: number;
  /** An idle thread exits after this long. */
  idleTimeoutMs?: number;
}

/** Threads remembered as ended on purpose: far more than can die at once between two exits' handling. */
const ENDED_KEPT = 256;

export class WorkerPool<Task, Result> {
  readonly #pool: Piscina<Task, Result>;
  /** Thread ids this pool terminated (terminateThread) → when (Date.now()), most recent last. */
  readonly #ended = new Map<number, number>();

  /** Tasks a thread runs at once. */
  readonly tasksPerThread: number;

  constructor(opts: WorkerPoolOptions) {
    this.tasksPerThread = Math.max(1, opts.tasksPerThread ?? 1);
    this.#pool = new Piscina<Task, Result>({
      filename: opts.filename,
      minThreads: 0,
      maxThreads: Math.max(1, opts.maxThreads),
      concurrentTasksPerWorker: this.tasksPerThread,
      // 'sync' blocks a thread with Atomics.wait between tasks, which would stall the other tasks on it.
      atomics: this.tasksPerThread > 1 ? 'disabled' : 'sync',
      idleTimeout: opts.idleTimeoutMs ?? 10_000,
    });
  }

  /**
   * Runs one task. Rejects (untyped) only when its thread dies or the signal aborts it. When threads are
   * shared, the signal is not given to piscina (see above): end such a task with `terminateThread`.
   */
  run(task: Task, transferList: Transferable[], signal: AbortSignal): Promise<Result> {
    return this.#pool.run(task, { transferList: transferList as never, ...(this.tasksPerThread > 1 ? {} : { signal }) });
  }

  /** Terminates one worker thread (a crash, as seen by its task). */
  async terminateThread(threadId: number): Promise<boolean> {
    const worker = this.#pool.threads.find((w) => w.threadId === threadId);
    if (!worker) return false;
    this.#ended.set(threadId, Date.now());
    if (this.#ended.size > ENDED_KEPT) this.#ended.delete(this.#ended.keys().next().value!);
    await worker.terminate();
    return true;
  }

  /** True when `threadId` died because terminateThread ended it (not by a crash of its own). */
  terminated(threadId: number): boolean {
    return this.#ended.has(threadId);
  }

  /**
   * True when terminateThread ended some thread within the last `ms`: for a task whose thread is not
   * known (it had not said yet), the likely cause of its thread's death.
   */
  terminatedWithin(ms: number): boolean {
    const since = Date.now() - ms;
    for (const at of this.#ended.values()) if (at >= since) return true;
    return false;
  }

  get threads(): number {
    return this.#pool.threads.length;
  }

  get queued(): number {
    return this.#pool.queueSize;
  }

  destroy(): Promise<void> {
    return this.#pool.destroy();
  }
}
