/**
 * The error classes of leec. The stable `code` is each error's identity; the class is sugar for
 * `instanceof`. Errors cross worker threads through `serializeError` / `reviveError` (structured clone
 * drops subclass fields, see the design notes), so `code`, the ACME problem and the failed `step` survive.
 * This module knows nothing of threads or ACME transport.
 */

/** The ACME step that was running when an error happened (LEEC's `{step, StepAtom}`). */
export type AcmeStep =
  | 'input'
  | 'directory'
  | 'newNonce'
  | 'newAccount'
  | 'newOrder'
  | 'authorization'
  | 'challenge'
  | 'finalize'
  | 'order'
  | 'download'
  | 'account'
  | 'keyChange'
  | 'revokeCert'
  | 'renewalInfo'
  | 'dns'
  | 'keygen'
  | 'store';

/** An RFC 7807 problem document as RFC 8555 §6.7 uses it. */
export interface AcmeProblem {
  type: string;
  detail?: string;
  status?: number;
  instance?: string;
  subproblems?: Array<{ type: string; detail?: string; identifier?: { type: string; value: string } }>;
}

/** The plain-data form of a leec error, safe for structured clone and JSON. */
export interface SerializedError {
  code: string;
  name: string;
  message: string;
  stack?: string;
  step?: AcmeStep;
  problem?: AcmeProblem;
  data?: Record<string, unknown>;
}

/** Base class of every error leec throws on purpose. */
export class LeecError extends Error {
  readonly code: string;
  readonly step: AcmeStep | undefined;
  readonly problem: AcmeProblem | undefined;
  /** Extra structured detail (identifier, HTTP status, retryAfter...); never secrets. */
  readonly data: Record<string, unknown>;

  constructor(
    code: string,
    message: string,
    opts: { step?: AcmeStep; problem?: AcmeProblem; data?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.step = opts.step;
    this.problem = opts.problem;
    this.data = opts.data ?? {};
  }

  toJSON(): SerializedError {
    return serializeError(this);
  }
}

/** Bad input from the caller, raised before any network request. */
export class InvalidInputError extends LeecError {}

/** The ACME server answered with a problem document (RFC 8555 §6.7). */
export class AcmeProblemError extends LeecError {}

/** `urn:ietf:params:acme:error:badNonce` still returned after the bounded retries (RFC 8555 §6.5). */
export class BadNonceError extends AcmeProblemError {}

/** `urn:ietf:params:acme:error:rateLimited` (RFC 8555 §6.6). */
export class RateLimitedError extends AcmeProblemError {}

/** An authorization became `invalid`: the CA could not validate a challenge (RFC 8555 §7.5.1). */
export class ChallengeFailedError extends AcmeProblemError {}

/** The server broke the protocol: bad JSON, no Replay-Nonce, an unexpected status. */
export class ProtocolError extends LeecError {}

/** The connection to the ACME server failed (reset, refused, TLS, timeout). */
export class TransportError extends LeecError {}

/** An order or authorization did not reach a final status in time. */
export class PollTimeoutError extends LeecError {}

/** An agent's worker thread ended before it answered. */
export class ActorExitedError extends LeecError {}

/** The agent was stopped on request (stop(domain) or shutdown). */
export class AbortedError extends LeecError {}

/** Reading or writing the certificate store failed. */
export class StoreError extends LeecError {}

/** A dns-01 provider failed, or a TXT value did not propagate in time (step `dns`). */
export class DnsError extends LeecError {}

/** Stable error codes. Documented in the README's errors table. */
export const ErrorCode = {
  invalidDomain: 'ERR_INVALID_DOMAIN',
  invalidOption: 'ERR_INVALID_OPTION',
  invalidKeyType: 'ERR_INVALID_KEY_TYPE',
  invalidDirectoryUrl: 'ERR_INVALID_DIRECTORY_URL',
  wildcardNeedsDns01: 'ERR_WILDCARD_NEEDS_DNS01',
  acmeProblem: 'ERR_ACME_PROBLEM',
  badNonce: 'ERR_ACME_BAD_NONCE',
  rateLimited: 'ERR_ACME_RATE_LIMITED',
  challengeFailed: 'ERR_ACME_CHALLENGE_FAILED',
  orderInvalid: 'ERR_ACME_ORDER_INVALID',
  protocol: 'ERR_ACME_PROTOCOL',
  transport: 'ERR_ACME_TRANSPORT',
  pollTimeout: 'ERR_ACME_POLL_TIMEOUT',
  actorExited: 'ERR_ACTOR_EXITED',
  aborted: 'ERR_ABORTED',
  store: 'ERR_STORE',
  storeLocked: 'ERR_STORE_LOCKED',
  listen: 'ERR_LISTEN',
  keyMismatch: 'ERR_KEY_MISMATCH',
  /** A dns-01 provider could not add or remove a TXT value (refused update, API error, command failed). */
  dnsProvider: 'ERR_DNS_PROVIDER',
  /** The TXT value was not seen at the authoritative servers (or the configured resolvers) in time. */
  dnsPropagation: 'ERR_DNS_PROPAGATION',
  /** A certificate is due for renewal as soon as it is issued (its lifetime or ARI window leaves no room): a configuration error, not a loop. */
  renewalDueAtIssuance: 'ERR_RENEWAL_DUE_AT_ISSUANCE',
  internal: 'ERR_INTERNAL',
} as const;

const CLASSES: Record<string, new (...args: ConstructorParameters<typeof LeecError>) => LeecError> = {
  LeecError,
  InvalidInputError,
  AcmeProblemError,
  BadNonceError,
  RateLimitedError,
  ChallengeFailedError,
  ProtocolError,
  TransportError,
  PollTimeoutError,
  ActorExitedError,
  AbortedError,
  StoreError,
  DnsError,
};

/** Turns any thrown value into plain data that keeps a leec error's class name, code, step and problem. */
export function serializeError(err: unknown): SerializedError {
  if (err instanceof LeecError) {
    const out: SerializedError = { code: err.code, name: err.name, message: err.message, data: err.data };
    if (err.stack !== undefined) out.stack = err.stack;
    if (err.step !== undefined) out.step = err.step;
    if (err.problem !== undefined) out.problem = err.problem;
    return out;
  }
  if (err instanceof Error) {
    const out: SerializedError = { code: ErrorCode.internal, name: err.name, message: err.message };
    if (err.stack !== undefined) out.stack = err.stack;
    const sysCode = (err as { code?: unknown }).code;
    if (typeof sysCode === 'string') out.data = { cause: sysCode };
    return out;
  }
  return { code: ErrorCode.internal, name: 'Error', message: String(err) };
}

/** Rebuilds the error class from `serializeError`'s output, so `instanceof` and `code` hold again. */
export function reviveError(s: SerializedError): LeecError {
  const Ctor = CLASSES[s.name] ?? LeecError;
  const opts: { step?: AcmeStep; problem?: AcmeProblem; data?: Record<string, unknown> } = {};
  if (s.step !== undefined) opts.step = s.step;
  if (s.problem !== undefined) opts.problem = s.problem;
  if (s.data !== undefined) opts.data = s.data;
  const err = new Ctor(s.code, s.message, opts);
  if (!(s.name in CLASSES)) err.name = s.name;
  if (s.stack !== undefined) err.stack = s.stack;
  return err;
}

/** Type guard for plain data produced by `serializeError`. */
export function isSerializedError(v: unknown): v is SerializedError {
  return (
    typeof v === 'object' && v !== null && typeof (v as SerializedError).code === 'string' &&
    typeof (v as SerializedError).message === 'string' && typeof (v as SerializedError).name === 'string'
  );
}
