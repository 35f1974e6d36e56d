/**
 * The Supervisor: the main-thread owner of one ACME directory, account, store, http-01 responder and
 * certificate cache, running one agent (a worker thread) per domain under an OTP supervision tree
 * (root → responder, domains → domain:<name> → agent). It validates input before any request, keeps one
 * job per domain, stores what agents obtain, and hot-swaps certificates into the SNI callback. Agent
 * incarnations are in agent-child.ts; the tree itself is runtime/supervisor-tree.ts.
 */
import { X509Certificate } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { EventEmitter } from 'eventemitter3';
import { HttpTransport } from './acme/transport.js';
import { fetchDirectory } from './acme/directory.js';
import type { Directory } from './acme/types.js';
import type { AgentState, IssuedCertificate } from './acme/flow.js';
import { resolveAccount, type ResolvedAccount } from './account.js';
import type { CertificateResult, ObtainOutcome } from './certificate-result.js';
import { checkChallenge, checkKeyType, fillOptions, type FilledOptions, type SupervisorOptions } from './options.js';
import { AbortedError, ActorExitedError, ErrorCode, InvalidInputError, LeecError, StoreError, TransportError } from './errors.js';
import type { SupervisorEvents } from './events.js';
import { normalizeName, normalizeNames } from './names.js';
import type { KeyType } from './crypto/key-type.js';
import { ChallengeStore } from './responder/challenge-store.js';
import { createHttp01Handler, type Http01Handler } from './responder/http01-handler.js';
import { createJob, sameRequest, type Job } from './job.js';
import { startAgentChild, withdrawJobTokens, type AgentChildDeps } from './agent-child.js';
import { TreeSupervisor, type ChildSpec, type TreeNode } from './runtime/supervisor-tree.js';
import { standaloneResponders, type ResponderListeners } from './responders.js';
import { WebrootPublisher } from './responder/webroot.js';
import { TlsAlpn01Store } from './responder/tls-alpn01-store.js';
import { createTlsAlpn01Hook, type TlsAlpn01Hook } from './responder/tls-alpn01.js';
import { ChallengeRouter } from './challenge-router.js';
import type { ChallengeType } from './acme/challenges.js';
import { certificateIdentifier } from './acme/ari.js';
import { newOrderFields, type NewOrderOptions } from './acme/order-options.js';
import type { Dns01Provider } from './dns/provider.js';
import { resolveDnsProvider } from './dns/registry.js';
import { RateLimitGate } from './lifecycle/rate-limit-gate.js';
import { RenewalScheduler, type RenewOutcome } from './lifecycle/renewal-scheduler.js';
import { RenewalInfoSource, failedRenewal, renewalChallenge, schedulerSpec } from './renewals.js';
import { CertStore } from './store/cert-store.js';
import { CheckpointStore } from './store/checkpoint-store.js';
import { FetchSignals, fetchKey } from './fetch-signals.js';
import { lockStore, type StoreLock } from './store/store-lock.js';
import { loadFreshCertificate, reusedResult } from './renewal-window.js';
import { CertificateCache } from './tls/certificate-cache.js';
import { Permits } from './runtime/permits.js';
import { WorkerPool } from './runtime/worker-pool.js';
import { AGENT_ENTRY, type AgentOutcome, type AgentTask } from './agent/protocol.js';

export interface ObtainOptions {
  /** Extra names for the same certificate (subjectAltName). */
  sans?: string[];
  keyType?: KeyType;
  /** An ACME profile the directory lists (`meta.profiles`); default: the supervisor's `profile` option. */
  profile?: string;
  /** Requested validity (RFC 8555 §7.4): a Date or an RFC 3339 string. Not every CA honours it. */
  notBefore?: string | Date;
  notAfter?: string | Date;
  /** The challenge for this order; default: the supervisor's `challenge` option. Wildcards need dns-01. */
  challenge?: ChallengeType;
  /**
   * Return the stored certificate instead of ordering when it has the same names and more than a third
   * of its lifetime left. Default false: always order.
   */
  onlyIfDue?: boolean;
}

/** ARI requests (RFC 9773) in flight at once while a rebuilt schedule is refined. */
const ARI_FETCHES_AT_ONCE = 4;

/** How long a stopped agent gets to withdraw its tokens before its thread is terminated. */
const STOP_GRACE_MS = 5_000;

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
  /**
   * With `tlsAlpn01: { mode: 'embedded' }`: `tlsAlpn01.attach(yourTlsOrHttpsServer)` answers tls-alpn-01
   * (`acme-tls/1`) connections on your server's port and hands every other connection to it.
   */
  readonly tlsAlpn01: TlsAlpn01Hook | undefined;
  readonly #account: ResolvedAccount | undefined;
  readonly #pool: WorkerPool<AgentTask, AgentOutcome>;
  readonly #router: ChallengeRouter;
  /** What the CA's validator fetched from the responders: agents poll their authorizations right after. */
  readonly #fetches = new FetchSignals();
  /** RSA key generations at once, across all agents (keygenConcurrency). */
  readonly #keygenPermits: Permits;
  /** Supervisor-wide: at most maxConcurrentAgents jobs run, and never past the CA's rate limits. */
  readonly #gate: RateLimitGate;
  /** Renews every managed certificate on time (autoRenew). */
  readonly #scheduler: RenewalScheduler;
  /** The CA's ARI windows (RFC 9773), over one transport. */
  readonly #renewalInfo: RenewalInfoSource;
  /** The standalone responders' current listeners (replaced when the tree restarts one). */
  readonly #responder: ResponderListeners;
  readonly #jobs = new Map<string, Job>();
  readonly #checkpoints: CheckpointStore;
  /** root (one_for_one) → domains (one_for_one, dynamic) → domain:<name>#<n> → agent. */
  readonly #root: TreeSupervisor;
  readonly #domains: TreeSupervisor;
  readonly #agentDeps: AgentChildDeps;
  readonly #lock: StoreLock;
  #jobSeq = 0;
  #closed = false;

  private constructor(init: {
    options: FilledOptions;
    directory: Directory;
    store: CertStore;
    challenges: ChallengeStore;
    account: ResolvedAccount | undefined;
    certificates: CertificateCache;
    responder: ResponderListeners;
    root: TreeSupervisor;
    domains: TreeSupervisor;
    lock: StoreLock;
    dns01: Dns01Provider | undefined;
    tlsAlpn01: TlsAlpn01Store | undefined;
  }) {
    super();
    this.#root = init.root;
    this.#lock = init.lock;
    this.#domains = init.domains;
    this.options = init.options;
    this.directory = init.directory;
    this.store = init.store;
    this.challenges = init.challenges;
    this.http01 = createHttp01Handler(init.challenges, { onServed: (host, token) => this.#served({ type: 'http-01', host, token }) });
    this.certificates = init.certificates;
    this.tlsAlpn01 = init.tlsAlpn01 && init.options.tlsAlpn01?.mode === 'embedded'
      ? createTlsAlpn01Hook(init.tlsAlpn01, { onServed: (e) => this.#served({ type: 'tls-alpn-01', host: e.host }) })
      : undefined;
    this.#account = init.account;
    this.#responder = init.responder;
    const webroot = init.options.http01.mode === 'webroot' ? new WebrootPublisher(init.options.http01.webroot) : undefined;
    this.#router = new ChallengeRouter({ http01: init.challenges, webroot, dns01: init.dns01, tlsAlpn01: init.tlsAlpn01 });
    this.#pool = new WorkerPool<AgentTask, AgentOutcome>({
      filename: init.options.agentEntry ?? AGENT_ENTRY,
      maxThreads: Math.ceil(init.options.maxConcurrentAgents / init.options.agentsPerThread),
      tasksPerThread: init.options.agentsPerThread,
    });
    this.#checkpoints = new CheckpointStore(init.options.storeDir);
    this.#keygenPermits = new Permits(init.options.keygenConcurrency, 'keygen');
    this.#gate = new RateLimitGate({
      clock: init.options.clock,
      limits: init.options.rateLimits,
      maxConcurrent: init.options.maxConcurrentAgents,
      onQueued: (e) => {
        const job = this.#jobById(e.id);
        if (job) this.emit('job:queued', { domain: job.domain, startsAt: e.startsAt, blockedBy: e.blockedBy, key: e.key });
      },
    });
    this.#renewalInfo = new RenewalInfoSource({
      directory: init.directory,
      caPem: init.options.caBundle,
      timeoutMs: init.options.httpTimeoutMs,
      accountKeyPem: init.account?.keyPem,
    });
    this.#scheduler = new RenewalScheduler({
      clock: init.options.clock,
      renew: (domain) => this.#renew(domain),
      onEvent: (e) => {
        const { type, ...rest } = e;
        (this.emit as (event: string, payload: unknown) => boolean)(type, rest);
        if (type === 'renewal:halted') this.options.logger.error('renewal halted', { domain: e.domain, code: e.error.code, message: e.error.message });
      },
    });
    this.#agentDeps = {
      options: this.options,
      directory: this.directory,
      account: this.#account,
      pool: this.#pool,
      router: this.#router,
      fetches: this.#fetches,
      keygenPermits: this.#keygenPermits,
      emit: (event, ...args) => void (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args),
      checkpoint: (job) => this.#saveCheckpoint(job),
      complete: (job, c) => this.#complete(job, c),
    };
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
    // A built-in provider checks its options here, before the store is locked or anything is sent.
    const dns01 = options.dns01 ? await resolveDnsProvider(options.dns01.provider) : undefined;
    const lock = await lockStore(options.storeDir);
    if (options.resetState) {
      // LEEC's reset: the next request for any domain obtains a fresh certificate.
      await new CertStore(options.storeDir).forgetCertificates();
      await new CheckpointStore(options.storeDir).clear();
      options.logger.warn('stored certificates and order checkpoints forgotten (resetState)', { storeDir: options.storeDir });
    }
    const transport = new HttpTransport({ caPem: options.caBundle, timeoutMs: options.httpTimeoutMs });
    const store = new CertStore(options.storeDir);
    const challenges = new ChallengeStore();
    const tlsAlpn01 = options.tlsAlpn01 ? new TlsAlpn01Store() : undefined;
    const certificates = new CertificateCache();
    let sup: Supervisor | undefined;
    const responder: ResponderListeners = {};
    let domains: TreeSupervisor | undefined;
    try {
      const directory = await fetchDirectory(transport, options.directoryUrl);
      newOrderFields({ profile: options.profile }, directory); // a profile the CA does not list: typed, before the account
      const account =
        options.accountMode === 'shared'
          ? await resolveAccount({
              store,
              directoryUrl: options.directoryUrl,
              directory,
              transport,
              contact: options.contact,
              externalAccountBinding: options.externalAccountBinding,
            })
          : undefined;
      domains = await TreeSupervisor.start('domains', [], { strategy: 'one_for_one', intensity: 1000, periodMs: 1000 });
      const children = standaloneResponders({
        options,
        http01: challenges,
        tlsAlpn01,
        certificates,
        listeners: responder,
        served: (e) => {
          if (sup) sup.#served(e);
        },
      });
      const domainsRef = domains;
      children.push({ id: 'domains', restart: 'permanent', start: async () => domainsRef });
      // one_for_one: tokens live in the ChallengeStore, outside any listener, so a responder restart
      // leaves the domains (and validations in flight) alone.
      const root = await TreeSupervisor.start('root', children, {
        strategy: 'one_for_one',
        intensity: 3,
        periodMs: 60_000,
        onEvent: (e) => {
          if (e.type === 'child:restarting') options.logger.warn('restarting a supervision tree child', { child: e.childId, delayMs: e.delayMs });
        },
      });
      sup = new Supervisor({ options, directory, store, challenges, certificates, account, responder, root, domains, lock, dns01, tlsAlpn01 });
      await root.startChild(schedulerSpec(sup.#scheduler));
      await sup.#loadStored();
      options.logger.info('supervisor started', { directoryUrl: options.directoryUrl, account: account?.url, http01: options.http01.mode });
      return sup;
    } catch (e) {
      await domains?.stop('shutdown');
      await responder.http01?.close();
      await responder.tlsAlpn01?.close();
      await lock.release();
      throw e;
    } finally {
      transport.close();
    }
  }

  /** The standalone responder's port (when `http01.mode` is `standalone`). */
  get http01Port(): number | undefined {
    return this.#responder.http01?.port;
  }

  /** The standalone tls-alpn-01 responder's port (when `tlsAlpn01.mode` is `standalone`). */
  get tlsAlpn01Port(): number | undefined {
    return this.#responder.tlsAlpn01?.port;
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
    if (this.#closed) throw new AbortedError(ErrorCode.aborted, 'the supervisor is shut down', { step: 'input' });
    const challenge = opts.challenge === undefined ? this.options.challenge : checkChallenge(opts.challenge);
    const names = normalizeNames(domain, opts.sans, { challenge });
    if (!this.#router.supports(challenge)) {
      throw new InvalidInputError(ErrorCode.invalidOption, `${challenge} needs the supervisor option ${challenge === 'dns-01' ? 'dns01' : 'tlsAlpn01'}`, {
        step: 'input',
        data: { challenge },
      });
    }
    const keyType = opts.keyType === undefined ? this.options.keyType : checkKeyType(opts.keyType);
    const order: NewOrderOptions = { profile: opts.profile ?? this.options.profile, notBefore: opts.notBefore, notAfter: opts.notAfter };
    const fields = newOrderFields(order, this.directory); // bad times or an unknown profile: a typed error now, not in the agent
    if (fields.notAfter !== undefined && Date.parse(fields.notAfter.toUpperCase()) <= Date.now()) {
      // A certificate that would be expired when issued is never what was meant (and cannot be renewed).
      throw new InvalidInputError(ErrorCode.invalidOption, `notAfter ${fields.notAfter} is not in the future`, {
        step: 'input',
        data: { option: 'notAfter' },
      });
    }
    const primary = names[0]!;
    const running = this.#jobs.get(primary);
    // The same request joins the running job; a different one (names, key type) waits for it to end.
    if (running && sameRequest(running, names, keyType, challenge, order, opts.onlyIfDue === true)) return running.done;
    this.#jobSeq += 1;
    const job = createJob({ id: `domain:${primary}#${this.#jobSeq}`, domain: primary, names, keyType, challenge, order, onlyIfDue: opts.onlyIfDue === true, previous: running });
    // Registered before any await, so a concurrent call sees it and joins (never two jobs per domain).
    this.#jobs.set(primary, job);
    void (async () => {
      await running?.done.catch(() => undefined);
      job.previous = undefined;
      this.#throwIfStopped(job);
      if (job.onlyIfDue) {
        const reused = await this.#reuseIfFresh(primary, names, keyType, job.started);
        if (reused) return job.resolve(reused);
        this.#throwIfStopped(job);
      }
      job.resume = await this.#loadCheckpoint(job);
      job.order.replaces = await this.#replacedCertificate(primary);
      this.#throwIfStopped(job);
      // Wait for a slot and for the CA's rate limits (queued, never failed), then run.
      const ticket = await this.#gate.acquire({ id: job.id, account: this.#account?.url ?? 'throwaway', names: job.names }, job.abort.signal);
      void job.done.then(
        () => ticket.release({ ok: true }),
        (e: unknown) => ticket.release(gateOutcome(e)),
      );
      this.#throwIfStopped(job);
      await this.#startDomain(job);
    })().catch((e: unknown) => job.reject(e));
    // Responses left published by an agent that crashed (kept for its restart) are withdrawn as the job ends.
    const done = job.done.then(
      async (r) => {
        await withdrawJobTokens(this.#agentDeps, job);
        return r;
      },
      async (e: unknown) => {
        await withdrawJobTokens(this.#agentDeps, job);
        this.#reportFailure(job, e);
        // A failed order is over (its pending authorizations were deactivated, §7.5.2): the next request
        // must not resume it. A stop, a crash loop or a network failure leaves it resumable.
        if (!(e instanceof AbortedError || e instanceof ActorExitedError || e instanceof TransportError)) {
          await this.#checkpoints.remove(this.#safeName(job.domain)).catch(() => undefined);
        }
        throw e;
      },
    );
    void done
      .catch(() => undefined)
      .finally(() => {
        if (this.#jobs.get(primary) === job) this.#jobs.delete(primary);
      });
    job.done = done;
    return done;
  }

  /** A responder answered the CA's validator: tell the waiting agent, and announce it. */
  #served(e: { type: ChallengeType; host: string; token?: string | undefined }): void {
    if (e.type !== 'dns-01') this.#fetches.fetched(fetchKey(e));
    this.emit('challenge:served', e);
  }

  /** The directory name the store uses for a domain (also names its checkpoint). */
  #safeName(domain: string): string {
    return basename(this.store.domainDir(domain));
  }

  /** A checkpoint left by an earlier process for the same CA, account, names and key type. */
  async #loadCheckpoint(job: Job): Promise<Job['resume']> {
    if (!this.#account) return undefined; // throwaway accounts cannot reach an earlier account's order
    const c = await this.#checkpoints.load(this.#safeName(job.domain));
    const same =
      c !== undefined &&
      c.directoryUrl === this.options.directoryUrl &&
      c.accountUrl === this.#account.url &&
      c.keyType === job.keyType &&
      c.names.length === job.names.length &&
      c.names.every((n, i) => n === job.names[i]);
    if (!same) return undefined;
    this.options.logger.info('resuming order from checkpoint', { domain: job.domain, orderUrl: c.orderUrl });
    return { orderUrl: c.orderUrl, keyPem: c.keyPem };
  }

  /**
   * RFC 9773 §5: when the CA offers ARI, a renewal order names the certificate it replaces (its certID),
   * so the CA can exempt it from rate limits and link the two. Nothing stored, or unreadable: undefined.
   */
  async #replacedCertificate(domain: string): Promise<string | undefined> {
    if (this.directory.renewalInfo === undefined) return undefined;
    const stored = await this.store.loadCertificate(domain).catch(() => undefined);
    if (!stored) return undefined;
    try {
      return certificateIdentifier(stored.certPem);
    } catch {
      return undefined; // e.g. no authority key identifier: order without `replaces`
    }
  }

  #throwIfStopped(job: Job): void {
    if (job.stopping || this.#closed) {
      throw new AbortedError(ErrorCode.aborted, `the job for ${job.domain} was stopped before it started`, { step: 'input' });
    }
  }

  async #reuseIfFresh(domain: string, names: string[], keyType: KeyType, started: number): Promise<CertificateResult | undefined> {
    const stored = await loadFreshCertificate(this.store, domain, names, keyType).catch((e: unknown) => {
      // An unreadable or inconsistent stored set is as good as none: order a new one, which replaces it.
      if (!(e instanceof StoreError)) throw e;
      this.options.logger.warn('stored certificate unusable, ordering a new one', { domain, code: e.code, message: e.message });
      return undefined;
    });
    if (!stored) return undefined;
    this.certificates.set(stored.names, { fullchainPem: stored.fullchainPem, keyPem: stored.keyPem }, { checked: true });
    if (this.options.autoRenew && this.#scheduler.scheduled(domain) === undefined && !this.#scheduler.isRunning(domain)) {
      void this.#scheduleRenewal(domain, stored);
    }
    return reusedResult(this.store, domain, stored, started);
  }

  /**
   * Starts the job's own supervisor under `domains`: one_for_one over one transient agent, with the
   * configured intensity and backoff (OTP). When it gives up, the domain alone fails (`domain:gave-up`).
   */
  async #startDomain(job: Job): Promise<void> {
    const { options } = this;
    const agentSpec: ChildSpec = {
      id: 'agent',
      restart: 'transient',
      shutdownMs: STOP_GRACE_MS,
      start: ({ incarnation }) => startAgentChild(this.#agentDeps, job, incarnation),
      kill: async () => job.kill?.(),
    };
    let domainSup: TreeSupervisor | undefined;
    await this.#domains.startChild({
      id: job.id,
      restart: 'temporary',
      shutdownMs: 'infinity',
      start: async () => {
        domainSup = await TreeSupervisor.start(job.id, [agentSpec], {
          strategy: 'one_for_one',
          intensity: options.maxAgentRestarts,
          periodMs: options.restartPeriodMs,
          backoff: { ...options.restartBackoffMs, factor: 2 },
          onEvent: (e) => {
            if (e.type === 'child:restarting') {
              const error = toLeecError(job.lastCrash ?? new Error('agent exited'));
              options.logger.warn('agent died, restarting', { domain: job.domain, incarnation: e.incarnation, delayMs: e.delayMs, resume: job.resume?.orderUrl });
              this.emit('agent:restart', { domain: job.domain, incarnation: job.incarnation + 1, error });
            }
          },
        });
        return domainSup;
      },
    });
    void domainSup!.exited.then((reason) => {
      if (job.settled) return;
      if (reason.kind !== 'crash') {
        // Stopped while no agent ran (e.g. during a restart backoff): nothing else will settle the job.
        job.reject(new AbortedError(ErrorCode.aborted, `the job for ${job.domain} was stopped`, { step: 'input' }));
        return;
      }
      // More than `maxAgentRestarts` thread deaths within the period: this domain gives up, alone.
      const error = new ActorExitedError(
        ErrorCode.actorExited,
        `agent for ${job.domain} gave up after ${options.maxAgentRestarts} restarts: ${job.lastCrash?.message ?? 'crashed'}`,
        { cause: reason.error, data: { domain: job.domain, restarts: options.maxAgentRestarts } },
      );
      this.emit('domain:gave-up', { domain: job.domain, error });
      job.reject(error);
    });
    // The job is over when it settles: its domain supervisor goes too.
    void job.done.catch(() => undefined).finally(() => this.#domains.terminateChild(job.id).catch(() => undefined));
  }

  /** Stores, publishes and announces what an agent obtained, then settles its job. */
  async #complete(job: Job, c: IssuedCertificate): Promise<void> {
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
      challenge: job.challenge,
    });
    this.certificates.set(c.names, { fullchainPem: c.fullchainPem, keyPem: c.keyPem }, { checked: true });
    await this.#checkpoints.remove(this.#safeName(job.domain));
    // A renewal the scheduler runs is rescheduled from its outcome; any other issuance is scheduled here,
    // as a new certificate that ends any failure cycle of the domain.
    if (this.options.autoRenew && !this.#scheduler.isRunning(job.domain)) void this.#scheduleRenewal(job.domain, c, true);
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
      elapsedMs: Date.now() - job.started,
    };
    this.options.logger.info('certificate obtained', { domain: job.domain, notAfter: c.notAfter });
    this.emit('certificate', result);
    job.resolve(result);
  }

  async #saveCheckpoint(job: Job): Promise<void> {
    if (!job.resume) return;
    await this.#checkpoints.save(this.#safeName(job.domain), {
      directoryUrl: this.options.directoryUrl,
      accountUrl: this.#account?.url,
      names: job.names,
      keyType: job.keyType,
      orderUrl: job.resume.orderUrl,
      keyPem: job.resume.keyPem,
    });
  }

  #jobById(id: string): Job | undefined {
    for (const job of this.#jobs.values()) for (let j: Job | undefined = job; j; j = j.previous) if (j.id === id) return j;
    return undefined;
  }

  /** Schedules a certificate's renewal: inside the CA's ARI window when it offers one, else by its lifetime. */
  async #scheduleRenewal(domain: string, c: { notBefore: string; notAfter: string; fullchainPem: string }, obtained = false): Promise<void> {
    const ari = await this.#renewalInfo.window(c.fullchainPem);
    if (this.#closed) return;
    const cert = { notBefore: c.notBefore, notAfter: c.notAfter, ari };
    try {
      if (obtained) this.#scheduler.certificateObtained(domain, cert);
      else this.#scheduler.scheduleCertificate(domain, cert);
    } catch (e) {
      // Never silent: a certificate that cannot be scheduled is reported as the scheduler reports a halt.
      const error = toLeecError(e);
      this.options.logger.error('cannot schedule a renewal', { domain, code: error.code, message: error.message });
      this.emit('renewal:halted', { domain, error });
    }
  }

  /**
   * At start: every certificate in the store is put in the SNI cache and (autoRenew) scheduled again from
   * its own dates at once; a revoked one (`leec revoke`) renews now. When the CA offers ARI, the windows are
   * then fetched in the background, a few at a time, and each still-waiting renewal moves into its window:
   * start-up does not wait for one request per certificate.
   */
  async #loadStored(): Promise<void> {
    const entries: Array<{ domain: string; notBefore: string; notAfter: string; fullchainPem: string }> = [];
    const revoked: string[] = [];
    for (const domain of await this.store.listDomains().catch(() => [])) {
      const stored = await this.store.loadCertificate(domain).catch(() => undefined);
      if (!stored) continue;
      // Served from the first handshake on, whether or not this supervisor renews it.
      this.certificates.set(stored.names, { fullchainPem: stored.fullchainPem, keyPem: stored.keyPem }, { checked: true });
      if (!this.options.autoRenew) continue;
      entries.push({ domain, notBefore: stored.notBefore, notAfter: stored.notAfter, fullchainPem: stored.fullchainPem });
      if (await this.store.isRevoked(domain, new X509Certificate(stored.certPem).serialNumber).catch(() => false)) revoked.push(domain);
    }
    const planned = this.#scheduler.rebuild(entries.map(({ domain, notBefore, notAfter }) => ({ domain, notBefore, notAfter })));
    for (const domain of revoked) this.#scheduler.schedule(domain, this.options.clock.now());
    this.options.logger.info('renewal schedule rebuilt from the store', { certificates: planned.length, revoked: revoked.length });
    if (this.#renewalInfo.available) void this.#refineWithAri(entries.filter((e) => !revoked.includes(e.domain)));
  }

  /** Moves rebuilt renewals into the CA's ARI windows, `ARI_FETCHES_AT_ONCE` requests at a time. */
  async #refineWithAri(entries: ReadonlyArray<{ domain: string; notBefore: string; notAfter: string; fullchainPem: string }>): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < entries.length && !this.#closed) {
        const e = entries[next++]!;
        const ari = await this.#renewalInfo.window(e.fullchainPem);
        // Only a renewal still waiting on its lifetime moment: one that ran or was rescheduled meanwhile knows better.
        if (ari === undefined || this.#closed || this.#scheduler.scheduled(e.domain)?.reason !== 'lifetime' || this.#scheduler.isRunning(e.domain)) continue;
        this.#scheduler.scheduleCertificate(e.domain, { notBefore: e.notBefore, notAfter: e.notAfter, ari });
      }
    };
    await Promise.all(Array.from({ length: ARI_FETCHES_AT_ONCE }, worker)).catch((err: unknown) => {
      this.options.logger.warn('ARI windows not applied', { message: (err as Error).message });
    });
  }

  /** One renewal, as the scheduler asks for it: the stored names and key type, ordered again. */
  async #renew(domain: string): Promise<RenewOutcome> {
    try {
      const stored = await this.store.loadCertificate(domain);
      if (!stored) throw new StoreError(ErrorCode.store, `nothing is stored for ${domain} any more`, { step: 'store', data: { domain } });
      const challenge = renewalChallenge(stored.names, stored.meta.challenge, this.options.challenge);
      const r = await this.#obtain(domain, { sans: stored.names.slice(1), keyType: checkKeyType(stored.keyType), challenge });
      return { ok: true, notBefore: r.notBefore, notAfter: r.notAfter, ari: await this.#renewalInfo.window(r.fullchainPem) };
    } catch (e) {
      return failedRenewal(e);
    }
  }

  /**
   * The certificates under automatic renewal and when each renews next (epoch ms), soonest first.
   * A domain whose renewal is running has `at: undefined`.
   */
  renewals(): Array<{ domain: string; at: number | undefined; reason: string | undefined; running: boolean }> {
    const out: Array<{ domain: string; at: number | undefined; reason: string | undefined; running: boolean }> = [];
    for (const domain of this.#scheduler.domains()) {
      const s = this.#scheduler.scheduled(domain);
      out.push({ domain, at: s?.at, reason: s?.reason, running: this.#scheduler.isRunning(domain) });
    }
    return out.sort((a, b) => (a.at ?? -1) - (b.at ?? -1));
  }

  /** Stops renewing `domain` automatically (its certificate stays stored and served). */
  unmanage(domain: string): boolean {
    return this.#scheduler.unschedule(lookupName(domain));
  }

  /** Reports a job that ended without a certificate: `stopped`, or `failure`. */
  #reportFailure(job: Job, e: unknown): void {
    const error = toLeecError(e);
    if (error instanceof AbortedError) {
      this.options.logger.info('agent stopped', { domain: job.domain, step: error.step });
      this.emit('stopped', { domain: job.domain });
      return;
    }
    this.options.logger.error('certificate failed', { domain: job.domain, code: error.code, step: error.step, message: error.message });
    this.emit('failure', { domain: job.domain, error });
  }

  /** The supervision tree, with each child's state, incarnation and restarts (for the CLI and the demo). */
  tree(): TreeNode {
    return this.#root.tree();
  }

  /**
   * LEEC's `get_ongoing_challenges`: token → key authorization of the domain's live challenges, asked
   * of its agent. Empty when no job runs for the domain.
   */
  async ongoingChallenges(domain: string): Promise<Record<string, string>> {
    const job = this.#jobs.get(lookupName(domain));
    if (!job?.agent) return {};
    return job.agent.ongoingChallenges();
  }

  /**
   * Ends the domain's agent at once, as a crash (OTP's `exit(Pid, kill)`), by terminating its thread: the
   * supervisor restarts the agent, which resumes its order, and counts that restart. Agents sharing the
   * thread restart too, uncounted. For operators and fault tests. Resolves false when no agent thread
   * runs for the domain.
   */
  async killAgent(domain: string): Promise<boolean> {
    const job = this.#jobs.get(lookupName(domain));
    if (job?.threadId === undefined || job.kill === undefined) return false;
    // The incarnation's own end (its abort): its thread is terminated, and its mates know it was not theirs.
    job.kill();
    return true;
  }

  /**
   * Closes the standalone responder's server as if it had failed: the tree restarts it on the same port
   * (for operators and fault tests). Tokens are kept, so validations in flight still succeed.
   */
  async restartResponder(): Promise<boolean> {
    const listener = this.#responder.http01;
    if (!listener) return false;
    await listener.close();
    return true;
  }

  /**
   * Stops one domain's job: the agent aborts, withdraws its tokens and ends; its thread is terminated if
   * it does not within a grace period. The pending `obtainCertificate` rejects with AbortedError.
   */
  async stop(domain: string): Promise<void> {
    const jobs: Job[] = [];
    for (let j = this.#jobs.get(lookupName(domain)); j; j = j.previous) jobs.push(j);
    await Promise.all(
      jobs.map(async (j) => {
        j.stopping = true;
        j.abort.abort();
        await this.#domains.terminateChild(j.id);
        await j.done.catch(() => undefined);
      }),
    );
  }

  /** Stops every job, the responder and the worker threads. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#scheduler.stop();
    this.#renewalInfo.close();
    await Promise.all([...this.#jobs.keys()].map((d) => this.stop(d)));
    this.#gate.stop();
    await this.#root.stop('shutdown');
    await this.#pool.destroy();
    await this.#responder.http01?.close();
    await this.#responder.tlsAlpn01?.close();
    await this.#lock.release();
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

/** The job key of a domain as the caller wrote it (normalised, not validated: a lookup sends nothing). */
function lookupName(domain: string): string {
  return typeof domain === 'string' ? normalizeName(domain) : String(domain);
}

/** What a failed job tells the gate: which hosts failed validation, and whether a certificate may exist. */
function gateOutcome(e: unknown): { ok: false; failedHosts: string[]; certificateIssued: boolean } {
  const err = e instanceof LeecError ? e : undefined;
  const identifier = err?.code === ErrorCode.challengeFailed ? err.data['identifier'] : undefined;
  // Past finalize, the CA may have issued before the failure: count the certificate.
  const late = err?.step === 'finalize' || err?.step === 'order' || err?.step === 'download' || err?.step === 'store';
  return { ok: false, failedHosts: typeof identifier === 'string' ? [identifier] : [], certificateIssued: late };
}

function toLeecError(e: unknown): LeecError {
  return e instanceof LeecError ? e : new LeecError(ErrorCode.internal, e instanceof Error ? e.message : String(e), { cause: e });
}
