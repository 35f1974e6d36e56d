/**
 * One incarnation of a domain's agent as a child of the supervision tree: a piscina task on a worker
 * thread, with comlink both ways. Its exit reason follows OTP: a certificate or a typed ACME failure is a
 * `normal` exit (problems are values; a transient child is not restarted), a dead or hung thread is a
 * `crash` (restarted by the domain's supervisor, resuming the order), a stop is `shutdown`.
 */
import { MessageChannel } from 'node:worker_threads';
import type { IssuedCertificate } from './acme/flow.js';
import type { PresentedChallenge, WithdrawnChallenge } from './acme/challenges.js';
import type { Directory } from './acme/types.js';
import type { ResolvedAccount } from './account.js';
import { AbortedError, ActorExitedError, ErrorCode, reviveError } from './errors.js';
import type { FilledOptions } from './options.js';
import type { SupervisorEvents } from './events.js';
import type { Job } from './job.js';
import type { ChallengeRouter } from './challenge-router.js';
import { fetchKey, type FetchSignals } from './fetch-signals.js';
import { connectApi, exposeApi } from './runtime/channel.js';
import type { ChildRef, ExitReason } from './runtime/supervisor-tree.js';
import type { Permits } from './runtime/permits.js';
import type { WorkerPool } from './runtime/worker-pool.js';
import { PROTOCOL_VERSION, type AgentApi, type AgentOutcome, type AgentTask, type HostApi } from './agent/protocol.js';

/** Deadline of one supervisor → agent call. */
const AGENT_CALL_DEADLINE_MS = 10_000;
/**
 * How recent a deliberate end of a thread (killAgent, a deadline) must be to explain the death of a
 * thread mate whose thread is not known yet: its tasks are rejected within milliseconds of the end.
 */
const COLLATERAL_WINDOW_MS = 2_000;

export interface AgentChildDeps {
  options: FilledOptions;
  directory: Directory;
  account: ResolvedAccount | undefined;
  pool: WorkerPool<AgentTask, AgentOutcome>;
  /** Publishes what agents ask for: http-01 tokens, dns-01 TXT values, tls-alpn-01 certificates. */
  router: ChallengeRouter;
  /** What the CA's validator fetched, as the responders saw it. */
  fetches: FetchSignals;
  /** Bounds the RSA key generations the agents run at once (SupervisorOptions.keygenConcurrency). */
  keygenPermits: Permits;
  emit<E extends keyof SupervisorEvents>(event: E, ...args: Parameters<SupervisorEvents[E]>): void;
  /** Persists a checkpoint of the job's order. */
  checkpoint(job: Job): Promise<void>;
  /** Stores, publishes and announces an issued certificate; settles the job. */
  complete(job: Job, certificate: IssuedCertificate): Promise<void>;
}

/** Starts incarnation `incarnation` (1, 2, ... as the tree counts) of the job's agent. */
export async function startAgentChild(deps: AgentChildDeps, job: Job, incarnation: number): Promise<ChildRef> {
  job.incarnation = incarnation - 1;
  const host = new MessageChannel();
  const agent = new MessageChannel();
  const abort = new AbortController();
  job.kill = () => abort.abort();
  // Threads shared by several agents: piscina cannot abort one task, so ending this agent (kill, deadline,
  // an unresponsive stop) ends its thread, and the other agents on it restart and resume their orders.
  let endWhenReported = false;
  // A graceful stop asked before the agent reported: delivered to the agent itself once it does, so its
  // thread mates are not touched.
  let stopWhenReported = false;
  const shared = deps.pool.tasksPerThread > 1;
  // Keygen permits this incarnation holds: handed back as it hands them back, and all of them when it
  // ends; a wait still queued then is given up.
  const permits: Array<() => void> = [];
  const incarnationEnded = new AbortController();
  abort.signal.addEventListener('abort', () => incarnationEnded.abort(), { once: true });
  if (shared) {
    abort.signal.addEventListener('abort', () => {
      if (job.threadId === undefined) endWhenReported = true;
      else void deps.pool.terminateThread(job.threadId);
    }, { once: true });
  }
  const hostApi: HostApi = {
    presentChallenge: async (c) => {
      job.tokens.set(c.token, withdrawal(c));
      if (c.type !== 'dns-01') deps.fetches.expect(fetchKey(c));
      await deps.router.present(c);
      deps.emit('challenge:presented', { domain: job.domain, type: c.type, host: c.host, token: c.token });
    },
    cleanupChallenge: async (c) => {
      const published = job.tokens.get(c.token);
      job.tokens.delete(c.token);
      deps.fetches.forget(fetchKey(c));
      await deps.router.cleanup(published ?? c);
    },
    challengeFetched: (c, withinMs) => deps.fetches.wait(fetchKey(c), withinMs),
    progress: async (state, detail) => {
      job.state = state;
      if (detail?.threadId !== undefined) {
        job.threadId = detail.threadId;
        if (endWhenReported) {
          endWhenReported = false;
          void deps.pool.terminateThread(detail.threadId);
        } else if (stopWhenReported) {
          stopWhenReported = false;
          void job.agent?.stop().catch(() => abort.abort());
        }
      }
      deps.emit('state', { domain: job.domain, state, incarnation: job.incarnation, orderUrl: detail?.orderUrl });
    },
    keygenPermit: async () => {
      const release = await deps.keygenPermits.acquire(incarnationEnded.signal);
      // Granted in the same turn the incarnation ended: hand it straight back.
      if (incarnationEnded.signal.aborted) release();
      else permits.push(release);
    },
    keygenDone: async () => {
      permits.shift()?.();
    },
    checkpoint: async (c) => {
      // A restarted agent, or a restarted process, resumes this order with this key.
      job.resume = { orderUrl: c.orderUrl, keyPem: c.keyPem ?? (job.resume?.orderUrl === c.orderUrl ? job.resume.keyPem : undefined) };
      await deps.checkpoint(job);
    },
  };
  exposeApi(hostApi, host.port1);
  const { options, account } = deps;
  // A hung agent is ended at its deadline, as a crash: the restart resumes the order.
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, options.jobTimeoutMs);
  const task = deps.pool.run(
    {
      v: PROTOCOL_VERSION,
      domain: job.domain,
      incarnation: job.incarnation,
      names: job.names,
      keyType: job.keyType,
      challenge: job.challenge,
      order: job.order,
      dnsPropagation: options.dns01?.propagation,
      acme: {
        directoryUrl: options.directoryUrl,
        directory: deps.directory,
        caPem: options.caBundle,
        timeoutMs: options.httpTimeoutMs,
        account: account ? { keyPem: account.keyPem, url: account.url, jwk: account.jwk, thumbprint: account.thumbprint } : undefined,
        throwawayAccount: account ? undefined : { contact: options.contact },
      },
      resume: job.resume,
      poll: { timeoutMs: options.pollTimeoutMs, initialMs: options.pollInitialMs },
      preferredChain: options.preferredChain,
      hostPort: host.port2,
      agentPort: agent.port2,
    },
    [host.port2, agent.port2],
    abort.signal,
  );
  job.agent = connectApi<AgentApi>(agent.port1, { deadlineMs: AGENT_CALL_DEADLINE_MS, exited: task, peer: `agent ${job.domain}` });

  // The thread is handed to the next job the moment the task settles: forget it at once, so a later
  // killAgent() cannot reach another domain's agent.
  let lastThreadId: number | undefined;
  const released = task.finally(() => {
    lastThreadId = job.threadId;
    job.threadId = undefined;
    job.kill = undefined;
  });
  const exited = released
    .then(
      async (outcome): Promise<ExitReason> => {
        if (outcome.ok) {
          await deps.complete(job, outcome.certificate).catch((e: unknown) => job.reject(e));
          return { kind: 'normal' };
        }
        const error = reviveError(outcome.error);
        job.reject(error);
        return error instanceof AbortedError ? { kind: 'shutdown' } : { kind: 'normal' };
      },
      (cause: unknown): ExitReason => {
        if (job.stopping) {
          job.reject(new AbortedError(ErrorCode.aborted, `agent for ${job.domain} was stopped`, { step: 'input', cause }));
          return { kind: 'shutdown' };
        }
        // Its shared thread was ended for another agent (killAgent, a deadline): restarted, not counted.
        // An agent that had not yet said which thread it ran on is judged by the time: a thread was ended
        // on purpose just now.
        const collateral =
          shared && !abort.signal.aborted && (lastThreadId !== undefined ? deps.pool.terminated(lastThreadId) : deps.pool.terminatedWithin(COLLATERAL_WINDOW_MS));
        const what = timedOut
          ? `did not finish within ${options.jobTimeoutMs} ms and was ended`
          : collateral
            ? 'lost its thread, ended for another agent on it'
            : `died: ${(cause as Error)?.message ?? cause}`;
        const error = new ActorExitedError(ErrorCode.actorExited, `agent for ${job.domain} (incarnation ${job.incarnation}) ${what}`, {
          cause,
          data: { domain: job.domain, incarnation: job.incarnation, timedOut, collateral },
        });
        job.lastCrash = error;
        return { kind: 'crash', error, collateral };
      },
    )
    .then(async (reason) => {
      // After a crash the agent is restarted and resumes its order: its published responses stay, since
      // the CA may be validating them right now (withdrawn, the authorization would fail and the order
      // with it). The job withdraws whatever is left when it ends (withdrawJobTokens). Any other exit
      // ends the job: whatever the agent managed to clean up, nothing it published outlives it.
      if (reason.kind !== 'crash') await withdrawJobTokens(deps, job);
      return reason;
    })
    .finally(async () => {
      clearTimeout(deadline);
      incarnationEnded.abort();
      for (const release of permits.splice(0)) release();
      job.agent?.close();
      job.agent = undefined;
      job.kill = undefined;
      job.threadId = undefined;
      host.port1.close();
    });

  return {
    id: `agent:${job.domain}`,
    exited,
    async stop() {
      job.stopping = true;
      // Queued for a thread or not reporting yet: nothing to clean up inside, end it now; on a shared
      // thread, ending it would end its mates too, so the agent is stopped once it reports.
      if (job.threadId === undefined && shared) stopWhenReported = true;
      else if (job.threadId === undefined) abort.abort();
      else await job.agent?.stop().catch(() => abort.abort());
      await exited;
    },
  };
}

/** Withdraws every response the job's agents published and did not withdraw themselves. */
export async function withdrawJobTokens(deps: Pick<AgentChildDeps, 'router' | 'fetches'>, job: Job): Promise<void> {
  // Taken from the job first: the job's end and its last incarnation's end may both be withdrawing.
  const left = [...job.tokens.values()];
  job.tokens.clear();
  for (const c of left) {
    deps.fetches.forget(fetchKey(c));
    await deps.router.cleanup(c).catch(() => undefined);
  }
}

/** What withdraws a published response: for tls-alpn-01 its certificate, so a newer one for the host stays. */
function withdrawal(c: PresentedChallenge): WithdrawnChallenge {
  const base = { type: c.type, host: c.host, token: c.token };
  if (c.type === 'dns-01') return { ...base, fqdn: c.fqdn, value: c.value };
  if (c.type === 'tls-alpn-01') return { ...base, certPem: c.certPem };
  return base;
}
