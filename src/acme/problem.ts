/**
 * Turns an ACME error response (RFC 8555 §6.7 problem document) into the typed error a caller branches on.
 * Knows the problem types, not the transport.
 */
import {
  AcmeProblemError,
  BadNonceError,
  ChallengeFailedError,
  ErrorCode,
  RateLimitedError,
  type AcmeProblem,
  type AcmeStep,
  type LeecError,
} from '../errors.js';

export const PROBLEM_PREFIX = 'urn:ietf:params:acme:error:';

/** `urn:ietf:params:acme:error:badNonce` → `badNonce`; other namespaces are kept whole. */
export function shortProblemType(type: string): string {
  return type.startsWith(PROBLEM_PREFIX) ? type.slice(PROBLEM_PREFIX.length) : type;
}

/** Reads a problem document out of a body, or undefined if it is not one. */
export function parseProblem(body: Buffer, status: number): AcmeProblem | undefined {
  try {
    const j = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    if (typeof j !== 'object' || j === null || typeof j.type !== 'string') return undefined;
    const p: AcmeProblem = { type: j.type, status: typeof j.status === 'number' ? j.status : status };
    if (typeof j.detail === 'string') p.detail = j.detail;
    if (typeof j.instance === 'string') p.instance = j.instance;
    if (Array.isArray(j.subproblems)) p.subproblems = j.subproblems as NonNullable<AcmeProblem['subproblems']>;
    return p;
  } catch {
    return undefined;
  }
}

/** acmez-style message: `HTTP 429 rateLimited at newOrder - detail; subproblem dns:a.test: ...`. */
export function formatProblem(p: AcmeProblem, step: AcmeStep): string {
  const subs = (p.subproblems ?? [])
    .map((s) => `; subproblem ${s.identifier ? `${s.identifier.type}:${s.identifier.value}` : ''} ${shortProblemType(s.type)}: ${s.detail ?? ''}`)
    .join('');
  return `HTTP ${p.status ?? '?'} ${shortProblemType(p.type)} at ${step}${p.detail ? ` - ${p.detail}` : ''}${subs}`;
}

/** The typed error for a problem document. `retryAfterMs` comes from the response's Retry-After. */
export function problemError(p: AcmeProblem, step: AcmeStep, retryAfterMs?: number): LeecError {
  const data: Record<string, unknown> = retryAfterMs === undefined ? {} : { retryAfterMs };
  const opts = { step, problem: p, data };
  const msg = formatProblem(p, step);
  switch (shortProblemType(p.type)) {
    case 'badNonce':
      return new BadNonceError(ErrorCode.badNonce, msg, opts);
    case 'rateLimited':
      return new RateLimitedError(ErrorCode.rateLimited, msg, opts);
    default:
      return new AcmeProblemError(ErrorCode.acmeProblem, msg, opts);
  }
}

/** Replaces each secret (e.g. a key authorization quoted by the CA) in the problem's details. */
export function redactProblem(p: AcmeProblem, secrets: readonly string[]): AcmeProblem {
  const clean = (text: string | undefined): string | undefined =>
    text === undefined ? undefined : secrets.reduce((t, secret) => (secret ? t.split(secret).join('[redacted]') : t), text);
  const out: AcmeProblem = { ...p };
  const detail = clean(p.detail);
  if (detail !== undefined) out.detail = detail;
  if (p.subproblems) {
    out.subproblems = p.subproblems.map((sp) => {
      const d = clean(sp.detail);
      return d === undefined ? sp : { ...sp, detail: d };
    });
  }
  return out;
}

/**
 * An authorization that became invalid (§7.1.4): the challenge's error names what the CA saw.
 * `secrets` (the key authorization) are blanked out of the CA's text.
 */
export function challengeFailedError(identifier: string, challengeType: string, error: unknown, secrets: readonly string[] = []): ChallengeFailedError {
  const p: AcmeProblem = redactProblem(
    typeof error === 'object' && error !== null && typeof (error as AcmeProblem).type === 'string'
      ? (error as AcmeProblem)
      : { type: `${PROBLEM_PREFIX}unauthorized`, detail: 'authorization invalid' },
    secrets,
  );
  return new ChallengeFailedError(
    ErrorCode.challengeFailed,
    `${challengeType} validation of ${identifier} failed: ${formatProblem(p, 'challenge')}`,
    { step: 'challenge', problem: p, data: { identifier, challengeType } },
  );
}
