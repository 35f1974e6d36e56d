/**
 * The worker threads that host actors: a piscina pool with one task per thread at a time
 * (`concurrentTasksPerWorker: 1`, so a crash takes down one actor only). `maxThreads` bounds how many
 * run at once; piscina's queue holds the rest. Idle threads exit, so no job means no thread.
 * Generic: it knows nothing of ACME; the caller names the worker entry file.
 */
import type { Transferable } from 'node:worker_threads';
import { Piscina } from 'piscina';

export interface WorkerPoolOptions {
  /** file: URL of the compiled worker entry (its default export is the task function). */
  filename: string;
  /** Tasks running at once, one per thread. */
  maxThreads: number;
  /** An idle thread exits after this long. */
  idleTimeoutMs?: number;
}

export class WorkerPool<Task, Result> {
  readonly #pool: Piscina<Task, Result>;

  constructor(opts: WorkerPoolOptions) {
    this.#pool = new Piscina<Task, Result>({
      filename: opts.filename,
      minThreads: 0,
      maxThreads: Math.max(1, opts.maxThreads),
      concurrentTasksPerWorker: 1,
      idleTimeout: opts.idleTimeoutMs ?? 10_000,
    });
  }

  /** Runs one task. Rejects (untyped) only when its thread dies or the signal aborts it. */
  run(task: Task, transferList: Transferable[], signal: AbortSignal): Promise<Result> {
    return this.#pool.run(task, { transferList: transferList as never, signal });
  }

  /** Terminates one worker thread (a crash, as seen by its task). */
  async terminateThread(threadId: number): Promise<boolean> {
    const worker = this.#pool.threads.find((w) => w.threadId === threadId);
    if (!worker) return false;
    await worker.terminate();
    return true;
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
