/**
 * Supervisor options: the one place where defaults live and where options are checked, before any
 * network request. Produces FilledOptions; throws InvalidInputError with a stable code on bad input.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { createSecureContext } from 'node:tls';
import { splitPemChain } from './crypto/certificate.js';
import { decodeMacKey } from './acme/eab.js';
import { ErrorCode, InvalidInputError } from './errors.js';
import { DEFAULT_KEY_TYPE, isKeyType, KEY_TYPES, type KeyType } from './crypto/key-type.js';
import { silentLogger, type Logger } from './logger.js';
import { CHALLENGE_TYPES, type ChallengeType } from './acme/challenges.js';
import type { Dns01Provider } from './dns/provider.js';
import { realClock, type Clock } from './runtime/clock.js';
import { LETS_ENCRYPT_PRODUCTION, LETS_ENCRYPT_STAGING } from './directories.js';
import { LETS_ENCRYPT_PRODUCTION_LIMITS, LETS_ENCRYPT_STAGING_LIMITS, UNLIMITED_LIMITS, validateRateLimits, type RateLimits } from './lifecycle/rate-limit-presets.js';
import { DNS_PROVIDERS, isDnsProviderName } from './dns/registry.js';

/** How http-01 tokens reach the CA's validator (LEEC's interfacing modes). */
export type Http01Mode =
  /** The supervisor runs its own HTTP server (LEEC's standalone). `host` defaults to 127.0.0.1: pass '0.0.0.0' (or '::') so a real CA's validator can reach port 80. */
  | { mode: 'standalone'; port: number; host?: string }
  /** Tokens are written under `<webroot>/.well-known/acme-challenge/` for another server (LEEC's webroot). */
  | { mode: 'webroot'; webroot: string }
  /** The embedding server routes requests to `supervisor.http01.handle` / `.middleware` (LEEC's slave). */
  | { mode: 'embedded' };

/** How tls-alpn-01 certificates reach the CA's validator (RFC 8737), on port 443 for a real CA. */
export type TlsAlpn01Mode =
  /** The supervisor runs its own TLS listener; other TLS traffic on it is served from `certificates`. `host` defaults to 127.0.0.1. */
  | { mode: 'standalone'; port: number; host?: string }
  /** Your own `tls`/`https` server: `supervisor.tlsAlpn01.attach(server)` answers `acme-tls/1` connections on it. */
  | { mode: 'embedded' };

/** dns-01 (RFC 8555 §8.4): the provider that publishes TXT values, and the propagation check. */
export interface Dns01Options {
  /** Your own provider object, or a built-in one by name with string options (`rfc2136`, `exec`, `ovh`, `challtestsrv`). */
  provider: Dns01Provider | { name: string; options?: Record<string, string> };
  /**
   * Before a challenge is answered, its TXT value must be visible at these DNS servers (`ip:port`), or by
   * default at every authoritative server of the zone; `false` skips the check. Default timeout 120 s,
   * checked every 2 s.
   */
  propagation?: { servers?: string[]; timeoutMs?: number; intervalMs?: number } | false;
}

export interface SupervisorOptions {
  /** The ACME directory URL, e.g. Let's Encrypt's `https://acme-v02.api.letsencrypt.org/directory`. */
  directoryUrl: string;
  /** PEM trust anchors for the ACME server's TLS certificate, for this supervisor only (never process-global). */
  caBundle?: string;
  /** Where keys, certificates and the account are stored. */
  storeDir: string;
  /** Default certificate key type. Default `rsa4096`, as LEEC. */
  keyType?: KeyType;
  /** Account contacts, e.g. `['mailto:admin@example.com']` (RFC 8555 §7.3). */
  contact?: string[];
  /** One shared account per supervisor (default), or a throwaway account per agent (LEEC's behaviour). */
  accountMode?: 'shared' | 'throwaway';
  /**
   * External Account Binding (RFC 8555 §7.3.4) for CAs that require it: the key id and the base64url
   * MAC key (with or without padding) the CA gave you. Shared accounts only.
   */
  externalAccountBinding?: { kid: string; macKey: string };
  /** How http-01 tokens are served. Default `embedded`: tokens are always held in memory for `http01.handle`. */
  http01?: Http01Mode;
  /** The challenge answered by default (`obtainCertificate` can override it). Default `http-01`. Wildcards need `dns-01`. */
  challenge?: ChallengeType;
  /** Needed for dns-01 challenges. */
  dns01?: Dns01Options;
  /** Needed for tls-alpn-01 challenges. */
  tlsAlpn01?: TlsAlpn01Mode;
  /** The ACME profile to ask for (a name the directory's `meta.profiles` lists), e.g. Let's Encrypt's `shortlived`. */
  profile?: string;
  /**
   * Renew every certificate this supervisor obtains, and every one already in the store at start, on
   * time (the CA's ARI window, else a third of the lifetime left). Default true.
   */
  autoRenew?: boolean;
  /**
   * The CA's rate limits, which the supervisor never exceeds: jobs wait their turn instead of failing.
   * `letsencrypt`, `letsencrypt-staging`, `none` or your own `{ newOrdersPerAccount, certificatesPerRegisteredDomain,
   * duplicateCertificates, failedValidationsPerHost }` (each `{ count, windowMs }`). Default: Let's Encrypt's
   * for its two directory URLs, else none.
   */
  rateLimits?: 'letsencrypt' | 'letsencrypt-staging' | 'none' | RateLimits;
  /** LEEC's reset: forget the stored certificates and order checkpoints at start (the account is kept). Default false. */
  resetState?: boolean;
  /** The time source of the scheduler and the rate-limit gate. For simulations and tests; default the real clock. */
  clock?: Clock;
  /** Agents running at once; the rest wait at the rate-limit gate. Default 50. */
  maxConcurrentAgents?: number;
  /**
   * Agents that share one worker thread. Threads: ceil(maxConcurrentAgents / agentsPerThread). Default:
   * one thread per core (os.availableParallelism()), the agents spread over them, as Erlang runs its
   * processes on one scheduler per core: an agent mostly waits on the network, and each thread costs a
   * start-up. A thread that dies (or is ended: killAgent, a jobTimeoutMs deadline) restarts every agent on
   * it, each resuming its order; a restart caused by a thread ended for another agent is not counted
   * toward maxAgentRestarts. 1: a thread per agent, so even a crash of the thread itself takes down one
   * agent only, at a thread start-up per agent.
   */
  agentsPerThread?: number;
  /**
   * RSA certificate keys generated at once by all the agents (each holds a thread of libuv's pool, which
   * the process shares with its file system work, for 50 ms to seconds). Default: the pool's size less
   * one (UV_THREADPOOL_SIZE, else libuv's 4: so 3), so the store's writes, and the embedding server's own
   * file reads, never queue behind a batch of key generations. EC keys are not counted.
   */
  keygenConcurrency?: number;
  /**
   * Restart intensity of each domain's supervisor (OTP): more than this many agent restarts within
   * `restartPeriodMs` and the domain gives up (`domain:gave-up`). Default 3.
   */
  maxAgentRestarts?: number;
  /** The period of that intensity. Default 600000 (10 min). */
  restartPeriodMs?: number;
  /** Backoff between restarts of an agent: exponential with jitter, from `minMs` up to `maxMs`. Default 250 ms to 30 s. */
  restartBackoffMs?: { minMs: number; maxMs: number };
  /** One incarnation of an agent is ended (as a crash, then restarted) past this. Default 900000 (15 min). */
  jobTimeoutMs?: number;
  /** Per ACME HTTP request. Default 30 s. */
  httpTimeoutMs?: number;
  /** Waiting for an authorization or order to become final. Default 300 s. */
  pollTimeoutMs?: number;
  /** First poll interval when the CA sends no Retry-After. Default 250 ms. */
  pollInitialMs?: number;
  /** Accept an `http://` directory on a loopback address (test servers only). Default false. */
  allowInsecureLoopback?: boolean;
  logger?: Logger;
  /**
   * file: URL of the agents' worker entry. Default: leec's own. For instrumentation and fault-injection
   * tests: an entry that wraps `runAgentJob` and observes its milestones.
   */
  agentEntry?: string;
  /**
   * RFC 8555 §7.4.2: among the default chain and the CA's `Link: rel="alternate"` chains, prefer the one
   * whose topmost certificate is issued by (or is) this CN, exact match (certbot's --preferred-chain).
   * No chain matches: the default. Unset (default): the default chain, no alternate is fetched.
   */
  preferredChain?: string;
}

export interface FilledOptions {
  directoryUrl: string;
  caBundle: string | undefined;
  storeDir: string;
  keyType: KeyType;
  contact: string[];
  accountMode: 'shared' | 'throwaway';
  externalAccountBinding: { kid: string; macKey: string } | undefined;
  http01: Http01Mode;
  challenge: ChallengeType;
  dns01:
    | {
        provider: Dns01Provider | { name: string; options: Record<string, string> };
        propagation: { servers?: string[] | undefined; timeoutMs: number; intervalMs: number } | false;
      }
    | undefined;
  tlsAlpn01: TlsAlpn01Mode | undefined;
  profile: string | undefined;
  autoRenew: boolean;
  rateLimits: Readonly<RateLimits>;
  resetState: boolean;
  clock: Clock;
  maxConcurrentAgents: number;
  agentsPerThread: number;
  keygenConcurrency: number;
  maxAgentRestarts: number;
  restartPeriodMs: number;
  restartBackoffMs: { minMs: number; maxMs: number };
  jobTimeoutMs: number;
  httpTimeoutMs: number;
  pollTimeoutMs: number;
  pollInitialMs: number;
  logger: Logger;
  agentEntry: string | undefined;
  preferredChain: string | undefined;
}

/**
 * maxConcurrentAgents' default: enough that 50 orders wait on their validations together, not in rounds
 * (measured: 50 orders with 8 at a time took 5.6x the slowest validation). The rate-limit gate still keeps
 * them within the CA's limits.
 */
export const DEFAULT_MAX_CONCURRENT_AGENTS = 50;

/** agentsPerThread's default: the agents spread over one thread per core (never more threads than agents). */
export function defaultAgentsPerThread(maxConcurrentAgents: number, cores: number): number {
  return Math.ceil(maxConcurrentAgents / Math.max(1, Math.min(cores, maxConcurrentAgents)));
}

/** libuv's thread pool size when UV_THREADPOOL_SIZE does not set it. */
const LIBUV_DEFAULT_THREADPOOL = 4;

/** keygenConcurrency's default: libuv's pool size (UV_THREADPOOL_SIZE, capped at 1024 as libuv does) less one, at least 1. */
export function defaultKeygenConcurrency(env: NodeJS.ProcessEnv): number {
  const n = Number(env['UV_THREADPOOL_SIZE']);
  const pool = Number.isInteger(n) && n > 0 ? Math.min(n, 1024) : LIBUV_DEFAULT_THREADPOOL;
  return Math.max(1, pool - 1);
}

function bad(code: string, message: string, data: Record<string, unknown>): never {
  throw new InvalidInputError(code, message, { step: 'input', data });
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** RFC 8555 §6.1: all ACME communication is over HTTPS. `http:` only on loopback, and only when asked. */
export function checkDirectoryUrl(raw: unknown, allowInsecureLoopback = false): string {
  if (typeof raw !== 'string' || raw === '') bad(ErrorCode.invalidDirectoryUrl, 'directoryUrl is required', { directoryUrl: raw });
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return bad(ErrorCode.invalidDirectoryUrl, `directoryUrl ${JSON.stringify(raw)} is not a URL`, { directoryUrl: raw });
  }
  if (url.protocol === 'https:') return url.href;
  if (url.protocol === 'http:' && allowInsecureLoopback) {
    if (LOOPBACK.has(url.hostname)) return url.href;
    return bad(ErrorCode.invalidDirectoryUrl, `http:// is allowed only on a loopback host (127.0.0.1, localhost, [::1]), got ${url.href}`, { directoryUrl: raw });
  }
  return bad(ErrorCode.invalidDirectoryUrl, `directoryUrl must be https:// (RFC 8555 §6.1), got ${url.href}`, { directoryUrl: raw });
}

export function checkKeyType(raw: unknown): KeyType {
  if (!isKeyType(raw)) bad(ErrorCode.invalidKeyType, `unknown key type ${JSON.stringify(raw)}; use one of ${KEY_TYPES.join(', ')}`, { keyType: raw });
  return raw;
}

function wholeNumber(name: string, raw: unknown, dflt: number, min: number): number {
  if (raw === undefined) return dflt;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < min) bad(ErrorCode.invalidOption, `${name} must be a whole number >= ${min}`, { [name]: raw });
  return raw;
}

/** The longest delay a Node timer keeps (a longer one fires after 1 ms, with a TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration in milliseconds that a timer will wait: a whole number from `min` to MAX_TIMER_MS (about 24.8 days). */
function durationMs(name: string, raw: unknown, dflt: number, min: number): number {
  const ms = wholeNumber(name, raw, dflt, min);
  if (ms > MAX_TIMER_MS) bad(ErrorCode.invalidOption, `${name} must be at most ${MAX_TIMER_MS} ms (about 24.8 days), Node's longest timer`, { [name]: raw });
  return ms;
}

/** Every option name, so a misspelt one (LEEC threw `invalid_leec_option`) is refused, not ignored. */
const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'directoryUrl', 'caBundle', 'storeDir', 'keyType', 'contact', 'accountMode', 'externalAccountBinding', 'http01', 'maxConcurrentAgents',
  'maxAgentRestarts', 'restartPeriodMs', 'restartBackoffMs', 'jobTimeoutMs', 'httpTimeoutMs', 'pollTimeoutMs', 'pollInitialMs', 'allowInsecureLoopback', 'logger', 'agentEntry',
  'preferredChain', 'challenge', 'dns01', 'tlsAlpn01', 'profile', 'autoRenew', 'rateLimits', 'resetState', 'clock', 'agentsPerThread', 'keygenConcurrency',
]);

function checkLogger(raw: unknown): Logger {
  if (raw === undefined) return silentLogger;
  const l = raw as Record<string, unknown>;
  if (typeof l !== 'object' || l === null || !['debug', 'info', 'warn', 'error'].every((m) => typeof l[m] === 'function')) {
    bad(ErrorCode.invalidOption, 'logger must have debug, info, warn and error methods', {});
  }
  return raw as Logger;
}

function checkEab(raw: unknown, accountMode: string): { kid: string; macKey: string } | undefined {
  if (raw === undefined) return undefined;
  const e = raw as { kid?: unknown; macKey?: unknown };
  if (typeof e?.kid !== 'string' || e.kid === '' || typeof e.macKey !== 'string') {
    bad(ErrorCode.invalidOption, 'externalAccountBinding needs { kid, macKey } strings', {});
  }
  decodeMacKey(e.macKey); // throws ERR_INVALID_OPTION on a key that is not base64url
  if (accountMode !== 'shared') bad(ErrorCode.invalidOption, 'externalAccountBinding needs accountMode shared', {});
  return { kid: e.kid, macKey: e.macKey };
}

function checkBackoff(raw: unknown): { minMs: number; maxMs: number } {
  if (raw === undefined) return { minMs: 250, maxMs: 30_000 };
  const b = raw as { minMs?: unknown; maxMs?: unknown };
  const minMs = durationMs('restartBackoffMs.minMs', b?.minMs, -1, 0);
  const maxMs = durationMs('restartBackoffMs.maxMs', b?.maxMs, -1, 0);
  if (minMs < 0 || maxMs < minMs) bad(ErrorCode.invalidOption, 'restartBackoffMs needs minMs <= maxMs, both >= 0', { restartBackoffMs: raw });
  return { minMs, maxMs };
}

function checkAgentEntry(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !raw.startsWith('file:')) bad(ErrorCode.invalidOption, 'agentEntry must be a file: URL', { agentEntry: raw });
  return raw;
}

function checkPreferredChain(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw === '') bad(ErrorCode.invalidOption, 'preferredChain must be a non-empty issuer common name', { preferredChain: raw });
  return raw;
}

/** PEM text that Node's TLS accepts as trust anchors. */
function checkCaBundle(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !raw.includes('-----BEGIN CERTIFICATE-----')) {
    bad(ErrorCode.invalidOption, 'caBundle must be PEM text with at least one certificate', {});
  }
  try {
    for (const pem of splitPemChain(raw)) new X509Certificate(pem);
    createSecureContext({ ca: raw });
  } catch (cause) {
    bad(ErrorCode.invalidOption, `caBundle is not usable as TLS trust anchors: ${(cause as Error).message}`, {});
  }
  return raw;
}

/** RFC 8555 §7.3: contacts are URLs; leec accepts `mailto:` only, as Let's Encrypt does. */
function checkContact(raw: unknown): string[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) bad(ErrorCode.invalidOption, 'contact must be an array of mailto: URLs', { contact: raw });
  return raw.map((c) => {
    if (typeof c !== 'string' || !/^mailto:[^@\s,]+@[^@\s,]+\.[^@\s,]+$/.test(c)) {
      bad(ErrorCode.invalidOption, `contact ${JSON.stringify(c)} is not a mailto: address`, { contact: c });
    }
    return c;
  });
}

/** A standalone responder's `{ port, host? }` (http01 or tlsAlpn01). */
function checkStandalone(option: string, m: { port: number; host?: string }): { mode: 'standalone'; port: number; host?: string } {
  if (!Number.isInteger(m.port) || m.port < 0 || m.port > 65535) bad(ErrorCode.invalidOption, `${option}.port must be 0-65535`, { port: m.port });
  if (m.host !== undefined && (typeof m.host !== 'string' || m.host === '')) bad(ErrorCode.invalidOption, `${option}.host must be an address`, { host: m.host });
  return m.host === undefined ? { mode: 'standalone', port: m.port } : { mode: 'standalone', port: m.port, host: m.host };
}

function checkHttp01(raw: unknown): Http01Mode {
  if (raw === undefined) return { mode: 'embedded' };
  const m = raw as Http01Mode;
  if (m?.mode === 'embedded') return m;
  if (m?.mode === 'standalone') return checkStandalone('http01', m);
  if (m?.mode === 'webroot') {
    if (typeof m.webroot !== 'string' || m.webroot === '') bad(ErrorCode.invalidOption, 'http01.webroot must be a directory path', { webroot: m.webroot });
    return m;
  }
  return bad(ErrorCode.invalidOption, 'http01.mode must be standalone, webroot or embedded', { http01: raw });
}

export function checkChallenge(raw: unknown): ChallengeType {
  if (raw === undefined) return 'http-01';
  if (!(CHALLENGE_TYPES as readonly unknown[]).includes(raw)) bad(ErrorCode.invalidOption, `challenge must be one of ${CHALLENGE_TYPES.join(', ')}`, { challenge: raw });
  return raw as ChallengeType;
}

/** `ip:port` (IPv6 as `[::1]:53`): where a propagation check may ask. */
function checkDnsServer(raw: unknown): string {
  const m = typeof raw === 'string' ? /^(?:\[([0-9a-f:.]+)\]|([0-9.]+))(?::(\d{1,5}))?$/i.exec(raw) : null;
  const ip = m?.[1] ?? m?.[2];
  const port = m?.[3] === undefined ? 53 : Number(m[3]);
  if (!m || ip === undefined || isIP(ip) === 0 || port < 1 || port > 65535) {
    bad(ErrorCode.invalidOption, `dns01.propagation.servers entries must be ip or ip:port, got ${JSON.stringify(raw)}`, { server: raw });
  }
  return raw as string;
}

function checkDns01(raw: unknown): FilledOptions['dns01'] {
  if (raw === undefined) return undefined;
  const d = raw as Dns01Options;
  const p = d?.provider as Partial<Dns01Provider> & { options?: unknown };
  let provider: NonNullable<FilledOptions['dns01']>['provider'];
  if (typeof p === 'object' && p !== null && typeof p.present === 'function' && typeof p.cleanup === 'function') {
    if (typeof p.name !== 'string' || p.name === '') bad(ErrorCode.invalidOption, 'a dns01 provider object needs a name', {});
    provider = p as Dns01Provider;
  } else if (typeof p === 'object' && p !== null && typeof p.name === 'string') {
    if (!isDnsProviderName(p.name)) bad(ErrorCode.invalidOption, `unknown dns-01 provider ${JSON.stringify(p.name)}; use one of ${DNS_PROVIDERS.join(', ')}, or pass your own`, { provider: p.name });
    const opts = p.options ?? {};
    if (typeof opts !== 'object' || opts === null || Object.values(opts).some((v) => typeof v !== 'string')) {
      bad(ErrorCode.invalidOption, 'dns01.provider.options must map option names to strings', { provider: p.name });
    }
    provider = { name: p.name, options: { ...(opts as Record<string, string>) } };
  } else {
    return bad(ErrorCode.invalidOption, 'dns01.provider must be a provider object (name, present, cleanup) or { name, options }', {});
  }
  const prop = d.propagation;
  if (prop === false) return { provider, propagation: false };
  if (prop !== undefined && (typeof prop !== 'object' || prop === null)) bad(ErrorCode.invalidOption, 'dns01.propagation must be an object or false', {});
  const servers = prop?.servers;
  if (servers !== undefined && (!Array.isArray(servers) || servers.length === 0)) bad(ErrorCode.invalidOption, 'dns01.propagation.servers must be a non-empty array', {});
  return {
    provider,
    propagation: {
      servers: servers?.map(checkDnsServer),
      timeoutMs: wholeNumber('dns01.propagation.timeoutMs', prop?.timeoutMs, 120_000, 1),
      intervalMs: wholeNumber('dns01.propagation.intervalMs', prop?.intervalMs, 2_000, 1),
    },
  };
}

function checkBoolean(name: string, raw: unknown, dflt: boolean): boolean {
  if (raw === undefined) return dflt;
  if (typeof raw !== 'boolean') bad(ErrorCode.invalidOption, `${name} must be true or false`, { [name]: raw });
  return raw;
}

function checkRateLimits(raw: unknown, directoryUrl: unknown): Readonly<RateLimits> {
  if (raw === undefined) {
    if (directoryUrl === LETS_ENCRYPT_PRODUCTION) return LETS_ENCRYPT_PRODUCTION_LIMITS;
    if (directoryUrl === LETS_ENCRYPT_STAGING) return LETS_ENCRYPT_STAGING_LIMITS;
    return UNLIMITED_LIMITS;
  }
  if (raw === 'letsencrypt') return LETS_ENCRYPT_PRODUCTION_LIMITS;
  if (raw === 'letsencrypt-staging') return LETS_ENCRYPT_STAGING_LIMITS;
  if (raw === 'none') return UNLIMITED_LIMITS;
  if (typeof raw !== 'object' || raw === null) bad(ErrorCode.invalidOption, "rateLimits must be 'letsencrypt', 'letsencrypt-staging', 'none' or an object of limits", { rateLimits: raw });
  return validateRateLimits(raw);
}

function checkClock(raw: unknown): Clock {
  if (raw === undefined) return realClock;
  const c = raw as Partial<Clock>;
  if (typeof c !== 'object' || c === null || typeof c.now !== 'function' || typeof c.setTimeout !== 'function' || typeof c.clearTimeout !== 'function') {
    bad(ErrorCode.invalidOption, 'clock must have now, setTimeout and clearTimeout', {});
  }
  return raw as Clock;
}

/** The name only: whether the CA lists it is checked once the directory is fetched. */
function checkProfileName(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw === '') bad(ErrorCode.invalidOption, 'profile must be a non-empty profile name', { profile: raw });
  return raw;
}

function checkTlsAlpn01(raw: unknown): TlsAlpn01Mode | undefined {
  if (raw === undefined) return undefined;
  const m = raw as TlsAlpn01Mode;
  if (m?.mode === 'embedded') return { mode: 'embedded' };
  if (m?.mode === 'standalone') return checkStandalone('tlsAlpn01', m);
  return bad(ErrorCode.invalidOption, 'tlsAlpn01.mode must be standalone or embedded', { tlsAlpn01: raw });
}

/** Checks every option and fills the defaults. */
export function fillOptions(o: SupervisorOptions): FilledOptions {
  if (typeof o !== 'object' || o === null) bad(ErrorCode.invalidOption, 'options are required', {});
  const unknown = Object.keys(o).filter((k) => !KNOWN_OPTIONS.has(k));
  if (unknown.length > 0) bad(ErrorCode.invalidOption, `unknown option ${unknown.join(', ')}`, { unknown });
  if (typeof o.storeDir !== 'string' || o.storeDir === '') bad(ErrorCode.invalidOption, 'storeDir is required', { storeDir: o.storeDir });
  if (o.accountMode !== undefined && o.accountMode !== 'shared' && o.accountMode !== 'throwaway') {
    bad(ErrorCode.invalidOption, 'accountMode must be shared or throwaway', { accountMode: o.accountMode });
  }
  const maxConcurrentAgents = wholeNumber('maxConcurrentAgents', o.maxConcurrentAgents, DEFAULT_MAX_CONCURRENT_AGENTS, 1);
  return {
    directoryUrl: checkDirectoryUrl(o.directoryUrl, o.allowInsecureLoopback === true),
    caBundle: checkCaBundle(o.caBundle),
    storeDir: o.storeDir,
    keyType: o.keyType === undefined ? DEFAULT_KEY_TYPE : checkKeyType(o.keyType),
    contact: checkContact(o.contact),
    accountMode: o.accountMode ?? 'shared',
    externalAccountBinding: checkEab(o.externalAccountBinding, o.accountMode ?? 'shared'),
    http01: checkHttp01(o.http01),
    challenge: checkChallenge(o.challenge),
    dns01: checkDns01(o.dns01),
    tlsAlpn01: checkTlsAlpn01(o.tlsAlpn01),
    profile: checkProfileName(o.profile),
    autoRenew: checkBoolean('autoRenew', o.autoRenew, true),
    rateLimits: checkRateLimits(o.rateLimits, o.directoryUrl),
    resetState: checkBoolean('resetState', o.resetState, false),
    clock: checkClock(o.clock),
    maxConcurrentAgents,
    agentsPerThread: wholeNumber('agentsPerThread', o.agentsPerThread, defaultAgentsPerThread(maxConcurrentAgents, availableParallelism()), 1),
    keygenConcurrency: wholeNumber('keygenConcurrency', o.keygenConcurrency, defaultKeygenConcurrency(process.env), 1),
    maxAgentRestarts: wholeNumber('maxAgentRestarts', o.maxAgentRestarts, 3, 0),
    restartPeriodMs: durationMs('restartPeriodMs', o.restartPeriodMs, 600_000, 1),
    restartBackoffMs: checkBackoff(o.restartBackoffMs),
    jobTimeoutMs: durationMs('jobTimeoutMs', o.jobTimeoutMs, 900_000, 1),
    httpTimeoutMs: durationMs('httpTimeoutMs', o.httpTimeoutMs, 30_000, 1),
    pollTimeoutMs: durationMs('pollTimeoutMs', o.pollTimeoutMs, 300_000, 1),
    pollInitialMs: durationMs('pollInitialMs', o.pollInitialMs, 250, 1),
    logger: checkLogger(o.logger),
    agentEntry: checkAgentEntry(o.agentEntry),
    preferredChain: checkPreferredChain(o.preferredChain),
  };
}
