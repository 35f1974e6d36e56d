/**
 * HTTPS transport to one ACME server: keep-alive connections, a per-instance trust store (never
 * process-global), a timeout and a body size cap. It knows HTTP, not ACME: no nonces, no JWS, no retries.
 */
import http from 'node:http';
import https from 'node:https';
import { AbortedError, ErrorCode, TransportError, type AcmeStep } from '../errors.js';

export interface TransportOptions {
  /** PEM trust anchors for the ACME server's TLS certificate; default: Node's bundled roots. */
  caPem?: string | undefined;
  /** Per request, from connect to the last byte. */
  timeoutMs?: number | undefined;
  /** Responses larger than this are cut off with a ProtocolError-like TransportError (bounded memory). */
  maxBodyBytes?: number | undefined;
  userAgent?: string | undefined;
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
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_BODY = 4 * 1024 * 1024;

function abortedError(step: AcmeStep): AbortedError {
  return new AbortedError(ErrorCode.aborted, `stopped during ${step}`, { step });
}

/** One keep-alive agent per transport: connections to the CA are reused across the whole order flow. */
export class HttpTransport {
  readonly #httpsAgent: https.Agent;
  readonly #httpAgent: http.Agent;
  readonly #timeoutMs: number;
  readonly #maxBody: number;
  readonly #userAgent: string;
  /** Number of requests sent, for `requestsPerCert` in the benchmark. */
  requestCount = 0;

  constructor(opts: TransportOptions = {}) {
    this.#httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 4, ...(opts.caPem ? { ca: opts.caPem } : {}) });
    this.#httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
    this.#userAgent = opts.userAgent ?? 'leec (+https://www.rfc-editor.org/rfc/rfc8555)';
  }

  request(req: HttpRequest): Promise<HttpResponse> {
    this.requestCount += 1;
    const url = new URL(req.url);
    const isHttps = url.protocol === 'https:';
    const mod = isHttps ? https : http;
    const headers: Record<string, string> = { 'user-agent': this.#userAgent, ...req.headers };
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    if (req.signal?.aborted) return Promise.reject(abortedError(req.step));
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const fail = (cause: unknown, what: string): void => {
        if (settled) return;
        settled = true;
        const code = cause instanceof Error && 'code' in cause ? String(cause.code) : undefined;
        const why = cause instanceof Error ? `${code ? `${code}: ` : ''}${cause.message}` : String(cause);
        reject(
          new TransportError(ErrorCode.transport, `${what} ${req.method} ${req.url} at ${req.step}: ${why}`, {
            step: req.step,
            cause,
            data: { url: req.url, ...(code ? { cause: code } : {}) },
          }),
        );
      };
      const r = mod.request(
        url,
        { method: req.method, headers, agent: isHttps ? this.#httpsAgent : this.#httpAgent, timeout: this.#timeoutMs },
        (res) => {
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
      const deadline = setTimeout(() => r.destroy(new Error(`timed out after ${this.#timeoutMs} ms`)), this.#timeoutMs);
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
      r.on('timeout', () => r.destroy(new Error(`idle for ${this.#timeoutMs} ms`)));
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
