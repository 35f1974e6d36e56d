/**
 * HTTPS transport to one ACME server: keep-alive connections, a per-instance trust store (never
 * process-global), a timeout and a body size cap. It knows HTTP, not ACME: no nonces, no JWS.
 *
 * Connection-level failures before any response arrived (reset, refused, timeout, unreachable) are
 * transient: `requestIdempotent` retries them for GET and HEAD, with bounded backoff; a POST is retried by
 * AcmeClient, which must re-sign it with a fresh nonce (RFC 8555 §6.5, §7.2), never here. A response
 * that started and was then cut (truncated or oversized body, reset mid-body) is not retried: the server
 * has acted on the request and answered, and the caller sees that at once.
 */
import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortedError, ErrorCode, InvalidInputError, TransportError, type AcmeStep } from '../errors.js';

export interface TransportOptions {
  /** PEM trust anchors for the ACME server's TLS certificate; default: Node's bundled roots. */
  caPem?: string | undefined;
  /** Per request, from connect to the last byte. */
  timeoutMs?: number | undefined;
  /** Responses larger than this are cut off with a ProtocolError-like TransportError (bounded memory). */
  maxBodyBytes?: number | undefined;
  userAgent?: string | undefined;
  /** Retries of a connection-level failure (see above), per request. Default 3. */
  maxTransportRetries?: number | undefined;
  /**
   * First backoff before such a retry; then x4, capped at x8 (default 250 ms: 250 ms, 1 s, 2 s, 2 s...).
   */
  transportRetryBaseMs?: number | undefined;
  /** Connections kept to one host at once (default 4; a transport shared by many agents wants more). */
  maxSockets?: number | undefined;
}

/** Counts the requests made on behalf of one user of a shared transport (every attempt counts). */
export interface RequestCounter {
  requests: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  step: AcmeStep;
  /** Aborts the request in flight (the job was stopped). */
  signal?: AbortSignal | undefined;
  /** Also counted here (besides the transport's own total). */
  count?: RequestCounter | undefined;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_BODY = 4 * 1024 * 1024;
export const DEFAULT_TRANSPORT_RETRIES = 3;
export const DEFAULT_TRANSPORT_RETRY_BASE_MS = 250;

/** System error codes of transient connection failures: worth another connection after a pause. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'EAI_AGAIN',
]);

function abortedError(step: AcmeStep): AbortedError {
  return new AbortedError(ErrorCode.aborted, `stopped during ${step}`, { step });
}

function timeoutError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ETIMEDOUT' });
}

/**
 * True for a TransportError raised before any response arrived, by a transient connection failure
 * (reset, refused, timeout, unreachable). False for TLS verification failures, unknown hosts, cut or
 * oversized responses, HTTP statuses (those are not TransportErrors) and AbortedError.
 */
export function isRetryableTransportError(e: unknown): boolean {
  if (!(e instanceof TransportError) || e.data.phase !== 'request') return false;
  const code = e.data.cause;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

/** Backoff before retry number `retry` (1-based): base, 4 x base, then 8 x base. */
export function transportBackoffMs(retry: number, baseMs: number): number {
  return Math.min(baseMs * 4 ** Math.max(0, retry - 1), baseMs * 8);
}

/** Sleeps `ms`, or rejects with AbortedError as soon as `signal` aborts. */
export async function backoff(ms: number, step: AcmeStep, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) throw abortedError(step);
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
  } catch {
    throw abortedError(step);
  }
}

/**
 * The error to throw once retries are over: the last failure, with `data.attempts` (how many times the
 * request was tried) and, when it was retried, a message that says so. Other errors pass unchanged.
 */
export function finalTransportError(e: unknown, attempts: number, step: AcmeStep): unknown {
  if (!(e instanceof TransportError)) return e;
  const message = attempts > 1 ? `${e.message} (${step}: gave up after ${attempts} attempts)` : e.message;
  return new TransportError(e.code, message, { step, cause: e.cause, data: { ...e.data, attempts } });
}

/** One keep-alive agent per transport: connections to the CA are reused across the whole order flow. */
export class HttpTransport {
  readonly #httpsAgent: https.Agent;
  readonly #httpAgent: http.Agent;
  readonly #timeoutMs: number;
  readonly #maxBody: number;
  readonly #userAgent: string;
  /** Retries of a connection-level failure per request (GET/HEAD here, POST in AcmeClient). */
  readonly maxTransportRetries: number;
  /** First backoff before such a retry (see transportBackoffMs). */
  readonly transportRetryBaseMs: number;
  /** Number of requests sent (every attempt counts), by every user of this transport. */
  requestCount = 0;

  constructor(opts: TransportOptions = {}) {
    const maxSockets = opts.maxSockets ?? 4;
    if (!Number.isInteger(maxSockets) || maxSockets < 1) throw new InvalidInputError(ErrorCode.invalidOption, `maxSockets must be a whole number >= 1, got ${String(maxSockets)}`, { step: 'input' });
    this.#httpsAgent = new https.Agent({ keepAlive: true, maxSockets, ...(opts.caPem ? { ca: opts.caPem } : {}) });
    this.#httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
    this.#userAgent = opts.userAgent ?? 'leec (+https://www.rfc-editor.org/rfc/rfc8555)';
    this.maxTransportRetries = opts.maxTransportRetries ?? DEFAULT_TRANSPORT_RETRIES;
    this.transportRetryBaseMs = opts.transportRetryBaseMs ?? DEFAULT_TRANSPORT_RETRY_BASE_MS;
    for (const [k, v] of [['maxTransportRetries', this.maxTransportRetries], ['transportRetryBaseMs', this.transportRetryBaseMs]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new InvalidInputError(ErrorCode.invalidOption, `${k} must be a whole number >= 0, got ${String(v)}`, { step: 'input' });
    }
  }

  /**
   * A GET or HEAD (idempotent, RFC 9110 §9.2.2) with bounded retries of connection-level failures
   * (isRetryableTransportError), backing off between attempts and honouring `req.signal` meanwhile.
   * The last failure is thrown with `data.attempts`.
   */
  async requestIdempotent(req: HttpRequest & { method: 'GET' | 'HEAD' }): Promise<HttpResponse> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.request(req);
      } catch (e) {
        if (!isRetryableTransportError(e) || attempt > this.maxTransportRetries) throw finalTransportError(e, attempt, req.step);
        await backoff(transportBackoffMs(attempt, this.transportRetryBaseMs), req.step, req.signal);
      }
    }
  }

  /** One attempt, no retry. Failures are TransportErrors with `data.phase`: `request` before any response arrived, `response` after. */
  request(req: HttpRequest): Promise<HttpResponse> {
    this.requestCount += 1;
    if (req.count) req.count.requests += 1;
    const url = new URL(req.url);
    const isHttps = url.protocol === 'https:';
    const mod = isHttps ? https : http;
    const headers: Record<string, string> = { 'user-agent': this.#userAgent, ...req.headers };
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    if (req.signal?.aborted) return Promise.reject(abortedError(req.step));
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      let responded = false;
      const fail = (cause: unknown, what: string): void => {
        if (settled) return;
        settled = true;
        const code = cause instanceof Error && 'code' in cause ? String(cause.code) : undefined;
        const why = cause instanceof Error ? `${code ? `${code}: ` : ''}${cause.message}` : String(cause);
        reject(
          new TransportError(ErrorCode.transport, `${what} ${req.method} ${req.url} at ${req.step}: ${why}`, {
            step: req.step,
            cause,
            data: { url: req.url, ...(code ? { cause: code } : {}), phase: responded ? 'response' : 'request' },
          }),
        );
      };
      const r = mod.request(
        url,
        { method: req.method, headers, agent: isHttps ? this.#httpsAgent : this.#httpAgent, timeout: this.#timeoutMs },
        (res) => {
          responded = true;
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > this.#maxBody) {
              fail(new Error(`body over ${this.#maxBody} bytes`), 'response too large for');
              res.destroy();
              return;
            }
            chunks.push(c);
          });
          res.on('error', (e) => fail(e, 'response failed for'));
          res.on('aborted', () => fail(new Error('aborted'), 'response cut for'));
          res.on('end', () => {
            if (!res.complete) return fail(new Error('truncated body'), 'truncated response for');
            if (settled) return;
            settled = true;
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
          });
        },
      );
      const deadline = setTimeout(() => r.destroy(timeoutError(`timed out after ${this.#timeoutMs} ms`)), this.#timeoutMs);
      const onAbort = (): void => {
        if (!settled) {
          settled = true;
          reject(abortedError(req.step));
        }
        r.destroy();
      };
      req.signal?.addEventListener('abort', onAbort, { once: true });
      r.on('close', () => {
        clearTimeout(deadline);
        req.signal?.removeEventListener('abort', onAbort);
      });
      r.on('timeout', () => r.destroy(timeoutError(`idle for ${this.#timeoutMs} ms`)));
      r.on('error', (e) => fail(e, 'request failed:'));
      r.end(req.body);
    });
  }

  /** Closes the kept-alive connections (end of an agent's job). */
  close(): void {
    this.#httpsAgent.destroy();
    this.#httpAgent.destroy();
  }
}
