/**
 * One certificate job for one domain, as the supervisor tracks it across the agent's incarnations:
 * what was asked, where the order stands (for resuming), and the promise its callers await.
 * Plain state; the supervisor and the agent child drive it.
 */
import type { AgentState } from './acme/flow.js';
import type { ChallengeType, WithdrawnChallenge } from './acme/challenges.js';
import type { NewOrderOptions } from './acme/order-options.js';
import type { CertificateResult } from './certificate-result.js';
import type { KeyType } from './crypto/key-type.js';
import type { AgentApi } from './agent/protocol.js';
import type { Remote } from './runtime/channel.js';

export interface Job {
  /** Unique per supervisor: the id of the job's domain supervisor in the tree. */
  id: string;
  domain: string;
  names: string[];
  keyType: KeyType;
  challenge: ChallengeType;
  /** newOrder's optional fields; `replaces` is filled in when the job starts, from the stored certificate. */
  order: NewOrderOptions;
  onlyIfDue: boolean;
  /** A job for the same domain with another request, which this one waits for. */
  previous: Job | undefined;
  state: AgentState;
  /** 0 for the first agent, +1 at each restart. */
  incarnation: number;
  /** Where a restarted agent picks the order up. */
  resume: { orderUrl: string; keyPem?: string | undefined } | undefined;
  /** The current agent's calls, while it runs. */
  agent: (Remote<AgentApi> & { close(): void }) | undefined;
  /** Ends the current incarnation's thread at once (queued: dropped from the queue). */
  kill: (() => void) | undefined;
  /** Challenge responses this job published, by token: withdrawn at the end of every incarnation. */
  tokens: Map<string, WithdrawnChallenge>;
  stopping: boolean;
  /** Aborted by stop(): ends a wait at the rate-limit gate. */
  abort: AbortController;
  /** The worker thread of the current incarnation, once it has reported. */
  threadId: number | undefined;
  /** The last thread death, reported if the domain gives up. */
  lastCrash: Error | undefined;
  started: number;
  done: Promise<CertificateResult>;
  resolve(r: CertificateResult): void;
  reject(e: unknown): void;
  settled: boolean;
}

/** A new job whose `done` settles once, through `resolve`/`reject`. */
export function createJob(init: { id: string; domain: string; names: string[]; keyType: KeyType; challenge: ChallengeType; order: NewOrderOptions; onlyIfDue: boolean; previous: Job | undefined }): Job {
  let resolve!: (r: CertificateResult) => void;
  let reject!: (e: unknown) => void;
  const done = new Promise<CertificateResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const job: Job = {
    ...init,
    state: 'idle',
    incarnation: 0,
    resume: undefined,
    agent: undefined,
    kill: undefined,
    tokens: new Map(),
    stopping: false,
    abort: new AbortController(),
    threadId: undefined,
    lastCrash: undefined,
    started: Date.now(),
    done,
    settled: false,
    resolve: (r) => {
      if (job.settled) return;
      job.settled = true;
      resolve(r);
    },
    reject: (e) => {
      if (job.settled) return;
      job.settled = true;
      reject(e);
    },
  };
  return job;
}

/** The same request: a second caller joins the running job instead of starting another. */
export function sameRequest(job: Job, names: string[], keyType: KeyType, challenge: ChallengeType, order: NewOrderOptions, onlyIfDue: boolean): boolean {
  const asked = (o: NewOrderOptions): string => JSON.stringify([o.profile, o.notBefore, o.notAfter]);
  return job.keyType === keyType && job.challenge === challenge && asked(job.order) === asked(order) && job.onlyIfDue === onlyIfDue && job.names.length === names.length && job.names.every((n, i) => n === names[i]);
}
