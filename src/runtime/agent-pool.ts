/**
 * The worker threads that host agents: a piscina pool with one agent per thread at a time
 * (`concurrentTasksPerWorker: 1`, so a crash takes down one agent only). `maxThreads` bounds how many
 * agents run at once; piscina's queue holds the rest. Idle threads exit, so a domain with no job holds none.
 */
import { Piscina } from 'piscina';
import type { AgentOutcome, AgentTask } from './protocol.js';

export interface AgentPoolOptions {
  /** Agents running at once. */
  maxThreads: number;
  /** An idle thread exits after this long. */
  idleTimeoutMs?: number;
}

/** The compiled worker entry, resolved from dist/src/runtime/ to dist/workers/. */
const AGENT_ENTRY = new URL('../../workers/agent.js', import.meta.url).href;

export class AgentPool {
  readonly #pool: Piscina<AgentTask, AgentOutcome>;

  constructor(opts: AgentPoolOptions) {
    this.#pool = new Piscina<AgentTask, AgentOutcome>({
      filename: AGENT_ENTRY,
      minThreads: 0,
      maxThreads: Math.max(1, opts.maxThreads),
      concurrentTasksPerWorker: 1,
      idleTimeout: opts.idleTimeoutMs ?? 10_000,
    });
  }

  /** Runs one agent job. Rejects (untyped) only when the thread dies or the signal aborts it. */
  run(task: AgentTask, signal: AbortSignal): Promise<AgentOutcome> {
    return this.#pool.run(task, { transferList: [task.hostPort, task.agentPort], signal });
  }

  /** Terminates one worker thread (an agent crash, as seen by its task). */
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
