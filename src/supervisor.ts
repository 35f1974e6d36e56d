/**
 * The Supervisor: the main-thread owner of one ACME directory, account, store, http-01 responder and
 * certificate cache, running one agent (a worker thread) per domain. It validates input before any
 * request, restarts an agent whose thread died (bounded, resuming its order), stores what agents obtain,
 * and hot-swaps certificates into the SNI callback. The full supervision tree is built on this later.
 */
import { stat } from 'node:fs/promises';
import { MessageChannel } from 'node:worker_threads';
import { EventEmitter } from 'eventemitter3';
import { HttpTransport } from './acme/transport.js';
import { fetchDirectory } from './acme/directory.js';
import type { Directory } from './acme/types.js';
import type { AgentState } from './acme/flow.js';
import { resolveAccount, type ResolvedAccount } from './account.js';
import type { CertificateResult, ObtainOutcome } from './certificate-result.js';
import { checkKeyType, fillOptions, type FilledOptions, type SupervisorOptions } from './options.js';
import { AbortedError, ActorExitedError, ErrorCode, InvalidInputError, LeecError, reviveError } from './errors.js';
import type { SupervisorEvents } from './events.js';
import { normalizeNames } from './names.js';
import type { KeyType } from './crypto/key-type.js';
import { ChallengeStore } from './responder/challenge-store.js';
import { createHttp01Handler, type Http01Handler } from './responder/http01-handler.js';
import { listenHttp01, type Http01Listener } from './responder/standalone.js';
import { WebrootPublisher } from './responder/webroot.js';
import { CertStore } from './store/cert-store.js';
import { reuseFreshCertificate } from './renewal-window.js';
import { CertificateCache } from './tls/certificate-cache.js';
import { WorkerPool } from './runtime/worker-pool.js';
import { connectApi, exposeApi, type Remote } from './runtime/channel.js';
import { AGENT_ENTRY, PROTOCOL_VERSION, type AgentApi, type AgentOutcome, type AgentTask, type HostApi } from './agent/protocol.js';

export interface ObtainOptions {
  /** Extra names for the same certificate (subjectAltName). */
  sans?: string[];
  keyType?: KeyType;
  /**
   * Return the stored certificate instead of ordering when it has the same names and more than a third
   * of its lifetime left. Default false: always order.
   */
  onlyIfDue?: boolean;
}

/** How long a stopped agent gets to withdraw its tokens before its thread is terminated. */
const STOP_GRACE_MS = 5_000;
/** Deadline of one supervisor → agent call. */
const AGENT_CALL_DEADLINE_MS = 10_000;

interface Job {
  domain: string;
  names: string[];
  keyType: KeyType;
  onlyIfDue: boolean;
  /** A job for the same domain with another request, which this one waits for. */
  previous: Job | undefined;
  incarnation: number;
  state: AgentState;
  resume: { orderUrl: string; keyPem?: string | undefined } | undefined;
  abort: AbortController;
  agent: (Remote<AgentApi> & { close(): void }) | undefined;
  /** Tokens this job published, withdrawn if its thread dies. */
  tokens: Map<string, string>;
  stopping: boolean;
  /** The worker thread running the current incarnation, once it has reported. */
  threadId: number | undefined;
  done: Promise<CertificateResult>;
}

export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly options: FilledOptions;
  readonly directory: Directory;
  readonly store: CertStore;
  /** http-01 tokens held in memory; `http01` serves them. */
  readonly challenges: ChallengeStore;
  /** Mount in your own server: `handle(req, res)` (returns false when not an ACME path), `middleware`, `listener`. */
  readonly http01: Http01Handler;
  /** Current certificates per name; pass `certificates.sniCallback` as `SNICallback` to hot-swap without restart. */
  readonly certificates: CertificateCache;
  readonly #account: ResolvedAccount | undefined;
  readonly #pool: WorkerPool<AgentTask, AgentOutcome>;
  readonly #webroot: WebrootPublisher | undefined;
  readonly #listener: Http01Listener | undefined;
  readonly #jobs = new Map<string, Job>();
  #closed = false;

  private constructor(init: {
    options: FilledOptions;
    directory: Directory;
    store: CertStore;
    challenges: ChallengeStore;
    account: ResolvedAccount | undefined;
    listener: Http01Listener | undefined;
  }) {
    super();
    this.options = init.options;
    this.directory = init.directory;
    this.store = init.store;
    this.challenges = init.challenges;
    this.http01 = createHttp01Handler(init.challenges, { onServed: (host, token) => this.emit('challenge:served', { host, token }) });
    this.certificates = new CertificateCache();
    this.#account = init.account;
    this.#listener = init.listener;
    this.#webroot = init.options.http01.mode === 'webroot' ? new WebrootPublisher(init.options.http01.webroot) : undefined;
    this.#pool = new WorkerPool<AgentTask, AgentOutcome>({ filename: AGENT_ENTRY, maxThreads: init.options.maxConcurrentAgents });
  }

  /**
   * Checks the options, fetches the directory once, resolves the account once (unless throwaway
   * accounts are asked for) and starts the standalone responder when configured.
   *
   * @example
   * const sup = await Supervisor.start({ directoryUrl: LETS_ENCRYPT_STAGING, storeDir: '/var/lib/leec',
   *   contact: ['mailto:admin@example.com'], http01: { mode: 'standalone', port: 80 } });
   * const cert = await sup.obtainCertificate('example.com', { sans: ['www.example.com'] });
   */
  static async start(opts: SupervisorOptions): Promise<Supervisor> {
    const options = fillOptions(opts);
    if (options.http01.mode === 'webroot') await checkWebroot(options.http01.webroot);
    const transport = new HttpTransport({ caPem: options.caBundle, timeoutMs: options.httpTimeoutMs });
    const store = new CertStore(options.storeDir);
    const challenges = new ChallengeStore();
    let listener: Http01Listener | undefined;
    let sup: Supervisor | undefined;
    try {
      const directory = await fetchDirectory(transport, options.directoryUrl);
      const account =
        options.accountMode === 'shared'
          ? await resolveAccount({ store, directoryUrl: options.directoryUrl, directory, transport, contact: options.contact })
          : undefined;
      if (options.http01.mode === 'standalone') {
        const { port, host = '127.0.0.1' } = options.http01;
        listener = await listenHttp01(challenges, { port, host, onServed: (h, token) => sup?.emit('challenge:served', { host: h, token }) }).catch((cause: unknown) => {
          throw new LeecError(ErrorCode.listen, `the http-01 responder cannot listen on ${host}:${port}: ${(cause as Error).message}`, {
            step: 'input',
            cause,
            data: { host, port },
          });
        });
      }
      sup = new Supervisor({ options, directory, store, challenges, account, listener });
      options.logger.info('supervisor started', { directoryUrl: options.directoryUrl, account: account?.url, http01: options.http01.mode });
      return sup;
    } catch (e) {
      await listener?.close();
      throw e;
    } finally {
      transport.close();
    }
  }

  /** The standalone responder's port (when `http01.mode` is `standalone`). */
  get http01Port(): number | undefined {
    return this.#listener?.port;
  }

  /** The shared account's URL (undefined in throwaway mode). */
  get accountUrl(): string | undefined {
    return this.#account?.url;
  }

  /** Domains with a running job, and each one's LEEC state. */
  status(): Array<{ domain: string; state: AgentState; incarnation: number }> {
    return [...this.#jobs.values()].map((j) => ({ domain: j.domain, state: j.state, incarnation: j.incarnation }));
  }

  /** Worker threads alive now, and jobs waiting for one. */
  get threads(): { running: number; queued: number } {
    return { running: this.#pool.threads, queued: this.#pool.queued };
  }

  /**
   * Obtains a certificate for `domain` (+ `sans`) and stores it. Bad input rejects with an
   * InvalidInputError before any request. A second call for a domain with a job running joins that job.
   * With a callback (LEEC's async mode) it returns `'async'` and reports the outcome to the callback.
   */
  obtainCertificate(domain: string, opts?: ObtainOptions): Promise<CertificateResult>;
  obtainCertificate(domain: string, opts: ObtainOptions | undefined, callback: (outcome: ObtainOutcome) => void): 'async';
  obtainCertificate(
    domain: string,
    opts: ObtainOptions = {},
    callback?: (outcome: ObtainOutcome) => void,
  ): Promise<CertificateResult> | 'async' {
    const p = this.#obtain(domain, opts);
    if (!callback) return p;
    p.then(
      (result) => callback({ status: 'success', domain: result.domain, certPath: result.paths.fullchain, keyPath: result.paths.privkey, result }),
      (error: unknown) => callback({ status: 'failure', domain: String(domain), error: toLeecError(error) }),
    );
    return 'async';
  }

  async #obtain(domain: string, opts: ObtainOptions): Promise<CertificateResult> {
    const started = Date.now();
    if (this.#closed) throw new AbortedError(ErrorCode.aborted, 'the supervisor is shut down', { step: 'input' });
    const names = normalizeNames(domain, opts.sans, { challenge: 'http-01' });
    const keyType = opts.keyType === undefined ? this.options.keyType : checkKeyType(opts.keyType);
    const primary = names[0]!;
    const running = this.#jobs.get(primary);
    // The same request joins the running job; a different one (names, key type) waits for it to end.
    if (running && sameRequest(running, names, keyType, opts.onlyIfDue === true)) return running.done;
    const job: Job = {
      domain: primary,
      names,
      keyType,
      onlyIfDue: opts.onlyIfDue === true,
      previous: running,
      incarnation: 0,
      state: 'idle',
      resume: undefined,
      abort: new AbortController(),
      agent: undefined,
      tokens: new Map(),
      stopping: false,
      threadId: undefined,
      done: undefined as unknown as Promise<CertificateResult>,
    };
    // Registered before any await, so a concurrent call sees it and joins (never two jobs per domain).
    this.#jobs.set(primary, job);
    job.done = (async () => {
      await running?.done.catch(() => undefined);
      job.previous = undefined;
      this.#throwIfStopped(job);
      if (job.onlyIfDue) {
        const reused = await this.#reuseIfFresh(primary, names, keyType, started);
        if (reused) return reused;
        this.#throwIfStopped(job);
      }
      return this.#runJob(job, started);
    })().finally(() => {
      if (this.#jobs.get(primary) === job) this.#jobs.delete(primary);
    });
    return job.done;
  }

  #throwIfStopped(job: Job): void {
    if (job.stopping || this.#closed) {
      const err = new AbortedError(ErrorCode.aborted, `the job for ${job.domain} was stopped before it started`, { step: 'input' });
      this.emit('stopped', { domain: job.domain });
      throw err;
    }
  }

  async #reuseIfFresh(domain: string, names: string[], keyType: KeyType, started: number): Promise<CertificateResult | undefined> {
    const reused = await reuseFreshCertificate(this.store, domain, names, keyType, started);
    if (reused) {
      const stored = await this.store.loadCertificate(domain);
      if (stored) this.certificates.set(stored.names, { fullchainPem: stored.fullchainPem, keyPem: stored.keyPem });
    }
    return reused;
  }

  /** Runs the job's agent, restarting it (bounded) when its thread dies, resuming the order it reported. */
  async #runJob(job: Job, started: number): Promise<CertificateResult> {
    for (;;) {
      let outcome: AgentOutcome;
      try {
        outcome = await this.#runAgentOnce(job);
      } catch (cause) {
        const err = job.stopping
          ? new AbortedError(ErrorCode.aborted, `agent for ${job.domain} was stopped`, { step: stepOf(job.state), cause })
          : new ActorExitedError(ErrorCode.actorExited, `agent for ${job.domain} died (incarnation ${job.incarnation}): ${(cause as Error)?.message ?? cause}`, {
              step: stepOf(job.state),
              cause,
              data: { domain: job.domain, incarnation: job.incarnation },
            });
        if (job.stopping || this.#closed || job.incarnation >= this.options.maxAgentRestarts) return this.#fail(job, err);
        job.incarnation += 1;
        this.options.logger.warn('agent died, restarting', { domain: job.domain, incarnation: job.incarnation, resume: job.resume?.orderUrl });
        this.emit('agent:restart', { domain: job.domain, incarnation: job.incarnation, error: err });
        continue;
      }
      if (!outcome.ok) return this.#fail(job, reviveError(outcome.error));
      const c = outcome.certificate;
      await this.store.saveCertificate({
        domain: job.domain,
        names: c.names,
        keyType: c.keyType,
        certPem: c.certPem,
        chainPem: c.chainPem,
        fullchainPem: c.fullchainPem,
        keyPem: c.keyPem,
        csrPem: c.csrPem,
        notBefore: c.notBefore,
        notAfter: c.notAfter,
      });
      this.certificates.set(c.names, { fullchainPem: c.fullchainPem, keyPem: c.keyPem });
      const result: CertificateResult = {
        domain: job.domain,
        names: c.names,
        keyType: c.keyType,
        notBefore: c.notBefore,
        notAfter: c.notAfter,
        paths: this.store.paths(job.domain),
        fullchainPem: c.fullchainPem,
        reused: false,
        challengesAnswered: c.challengesAnswered,
        requests: c.requests,
        threadId: c.threadId,
        elapsedMs: Date.now() - started,
      };
      this.options.logger.info('certificate obtained', { domain: job.domain, notAfter: c.notAfter });
      this.emit('certificate', result);
      return result;
    }
  }

  #fail(job: Job, error: LeecError): never {
    if (error instanceof AbortedError) {
      this.options.logger.info('agent stopped', { domain: job.domain, step: error.step });
      this.emit('stopped', { domain: job.domain });
      throw error;
    }
    this.options.logger.error('certificate failed', { domain: job.domain, code: error.code, step: error.step, message: error.message });
    this.emit('failure', { domain: job.domain, error });
    throw error;
  }

  /** One incarnation: a piscina task with two transferred MessagePorts for comlink, one per direction. */
  async #runAgentOnce(job: Job): Promise<AgentOutcome> {
    const host = new MessageChannel();
    const agent = new MessageChannel();
    const hostApi: HostApi = {
      presentHttp01: async (c) => {
        job.tokens.set(c.token, c.host);
        await this.challenges.present(c);
        await this.#webroot?.present(c);
        this.emit('challenge:presented', { domain: job.domain, host: c.host, token: c.token });
      },
      cleanupHttp01: async (c) => {
        job.tokens.delete(c.token);
        await this.challenges.cleanup(c);
        await this.#webroot?.cleanup(c);
      },
      progress: async (state, detail) => {
        job.state = state;
        if (detail?.threadId !== undefined) job.threadId = detail.threadId;
        this.emit('state', { domain: job.domain, state, incarnation: job.incarnation, orderUrl: detail?.orderUrl });
      },
      checkpoint: async (c) => {
        // A restarted agent resumes this order with this key instead of burning a new order.
        job.resume = { orderUrl: c.orderUrl, keyPem: c.keyPem ?? (job.resume?.orderUrl === c.orderUrl ? job.resume.keyPem : undefined) };
      },
    };
    exposeApi(hostApi, host.port1);
    const { account } = { account: this.#account };
    const task = this.#pool.run(
      {
        v: PROTOCOL_VERSION,
        domain: job.domain,
        incarnation: job.incarnation,
        names: job.names,
        keyType: job.keyType,
        acme: {
          directoryUrl: this.options.directoryUrl,
          directory: this.directory,
          caPem: this.options.caBundle,
          timeoutMs: this.options.httpTimeoutMs,
          account: account ? { keyPem: account.keyPem, url: account.url } : undefined,
          throwawayAccount: account ? undefined : { contact: this.options.contact },
        },
        resume: job.resume,
        poll: { timeoutMs: this.options.pollTimeoutMs, initialMs: this.options.pollInitialMs },
        hostPort: host.port2,
        agentPort: agent.port2,
      },
      [host.port2, agent.port2],
      job.abort.signal,
    );
    job.agent = connectApi<AgentApi>(agent.port1, { deadlineMs: AGENT_CALL_DEADLINE_MS, exited: task, peer: `agent ${job.domain}` });
    try {
      return await task;
    } finally {
      job.agent.close();
      job.agent = undefined;
      job.threadId = undefined;
      host.port1.close();
      // Whatever the agent managed to clean up, no token outlives its incarnation.
      await this.#withdrawTokens(job);
    }
  }

  async #withdrawTokens(job: Job): Promise<void> {
    for (const [token, host] of job.tokens) {
      await this.challenges.cleanup({ host, token });
      await this.#webroot?.cleanup({ host, token }).catch(() => undefined);
    }
    job.tokens.clear();
  }

  /**
   * LEEC's `get_ongoing_challenges`: token → key authorization of the domain's live challenges, asked
   * of its agent. Empty when no job runs for the domain.
   */
  async ongoingChallenges(domain: string): Promise<Record<string, string>> {
    const job = this.#jobs.get(normalizeNames(domain, [], { challenge: 'http-01' })[0]!);
    if (!job?.agent) return {};
    return job.agent.ongoingChallenges();
  }

  /**
   * Terminates the domain's agent thread at once, as a crash (OTP's `exit(Pid, kill)`): the supervisor
   * treats it like any thread death and restarts the agent, which resumes its order. For operators and
   * fault tests. Resolves false when no agent thread runs for the domain.
   */
  async killAgent(domain: string): Promise<boolean> {
    const job = this.#jobs.get(normalizeNames(domain, [], { challenge: 'http-01' })[0]!);
    if (job?.threadId === undefined) return false;
    return this.#pool.terminateThread(job.threadId);
  }

  /**
   * Stops one domain's job: the agent aborts, withdraws its tokens and ends; its thread is terminated if
   * it does not within a grace period. The pending `obtainCertificate` rejects with AbortedError.
   */
  async stop(domain: string): Promise<void> {
    const jobs: Job[] = [];
    for (let j = this.#jobs.get(normalizeNames(domain, [], { challenge: 'http-01' })[0]!); j; j = j.previous) jobs.push(j);
    await Promise.all(jobs.map((j) => this.#stopJob(j)));
  }

  async #stopJob(job: Job): Promise<void> {
    job.stopping = true;
    // Queued for a thread, or not started: nothing to clean up in an agent, so cancel it now.
    if (job.threadId === undefined) job.abort.abort();
    const grace = setTimeout(() => job.abort.abort(), STOP_GRACE_MS);
    try {
      await job.agent?.stop().catch(() => job.abort.abort());
      await job.done.catch(() => undefined);
    } finally {
      clearTimeout(grace);
    }
  }

  /** Stops every job, the responder and the worker threads. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#jobs.keys()].map((d) => this.stop(d)));
    await this.#pool.destroy();
    await this.#listener?.close();
    this.removeAllListeners();
  }
}

/** The webroot must be an existing directory: leec creates only `.well-known/acme-challenge/` in it. */
async function checkWebroot(webroot: string): Promise<void> {
  const st = await stat(webroot).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw new InvalidInputError(ErrorCode.invalidOption, `http01.webroot ${webroot} is not an existing directory`, { step: 'input', data: { webroot } });
  }
}

function sameRequest(job: Job, names: string[], keyType: KeyType, onlyIfDue: boolean): boolean {
  return job.keyType === keyType && job.onlyIfDue === onlyIfDue && job.names.length === names.length && job.names.every((n, i) => n === names[i]);
}

function toLeecError(e: unknown): LeecError {
  return e instanceof LeecError ? e : new LeecError(ErrorCode.internal, e instanceof Error ? e.message : String(e), { cause: e });
}

/** The step a job was at, from its LEEC state. */
function stepOf(state: AgentState): 'newOrder' | 'challenge' | 'finalize' | 'download' {
  switch (state) {
    case 'idle':
      return 'newOrder';
    case 'pending':
      return 'challenge';
    case 'valid':
    case 'finalize':
      return 'finalize';
    default:
      return 'download';
  }
}
