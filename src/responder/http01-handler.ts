/**
 * The http-01 request handler (RFC 8555 §8.3): answers GET/HEAD
 * `/.well-known/acme-challenge/<token>` from a ChallengeStore and lets every other path fall
 * through to the embedding server. It opens no socket (see standalone.ts) and never logs key authorizations.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isValidToken, normalizeHost, type ChallengeStore } from './challenge-store.js';

/** The path prefix the CA fetches (RFC 8555 §8.3). */
export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** Options of `createHttp01Handler`. */
export interface Http01HandlerOptions {
  /** Called after a key authorization was served (200). Exceptions it throws are ignored. */
  onServed?: (host: string, token: string) => void;
}

/** The three shapes of the http-01 handler. */
export interface Http01Handler {
  /** Answers a challenge request and returns true, or returns false touching nothing when the path is not under the prefix. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Connect/Express-style middleware: `next()` outside the prefix, `next(err)` if handling threw. */
  middleware(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
  /** A complete `http.createServer` listener: `handle`, else 404. */
  listener(req: IncomingMessage, res: ServerResponse): void;
}

/**
 * Splits the request target (RFC 9112 §3.2): the path with query and fragment cut, not decoded
 * or normalized (`..`, `%2e` and `//` stay as sent, so they can never equal a base64url token),
 * and, for an absolute-form `http(s)://authority/path` target, the authority, which replaces the
 * Host header (RFC 9112 §3.2.2). The asterisk and authority forms give an empty path.
 */
function requestTarget(rawUrl: string | undefined): { path: string; authority?: string } {
  let path = rawUrl ?? '/';
  let authority: string | undefined;
  if (!path.startsWith('/')) {
    const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(path);
    if (m === null) return { path: '' };
    authority = m[1] ?? '';
    path = m[2] ?? '';
  }
  const cut = path.search(/[?#]/);
  path = cut === -1 ? path : path.slice(0, cut);
  return authority === undefined ? { path } : { path, authority };
}

/** The host to look tokens up under: the absolute-form authority if any, else the Host header; '' when absent or carrying userinfo. */
function requestHost(req: IncomingMessage, authority: string | undefined): string {
  const raw = authority ?? req.headers.host;
  if (typeof raw !== 'string' || raw.includes('@')) return '';
  return normalizeHost(raw);
}

function sendText(res: ServerResponse, status: number, body: string, head: boolean, extra: Record<string, string> = {}): void {
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, {
    'content-type': 'text/plain',
    'content-length': String(buf.length),
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(head ? undefined : buf);
}

/**
 * Builds an http-01 responder over `store` (RFC 8555 §8.3): GET/HEAD only (405 with `Allow`
 * otherwise), base64url tokens only (exactly one path segment after the prefix), the key
 * authorization as `text/plain` when the host (Host header or absolute-form authority, lowercased,
 * port and trailing dot stripped) holds that token, 404 otherwise. Tokens withdrawn from the
 * store (`cleanup`, once the authorization is final) are 404 from then on.
 */
export function createHttp01Handler(store: ChallengeStore, opts: Http01HandlerOptions = {}): Http01Handler {
  const onServed = opts.onServed;

  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    const { path, authority } = requestTarget(req.url);
    if (!path.startsWith(ACME_CHALLENGE_PREFIX)) return false;
    const method = req.method ?? 'GET';
    const head = method === 'HEAD';
    if (method !== 'GET' && !head) {
      sendText(res, 405, 'Method Not Allowed\n', false, { allow: 'GET, HEAD' });
      return true;
    }
    const token = path.slice(ACME_CHALLENGE_PREFIX.length);
    const host = requestHost(req, authority);
    const keyAuthorization = isValidToken(token) && host !== '' ? store.get(host, token) : undefined;
    if (keyAuthorization === undefined) {
      sendText(res, 404, 'Not Found\n', head);
      return true;
    }
    sendText(res, 200, keyAuthorization, head);
    if (onServed !== undefined) {
      try {
        onServed(host, token);
      } catch {
        // A failing observer must not break the responder.
      }
    }
    return true;
  }

  return {
    handle,
    middleware(req, res, next) {
      let handled: boolean;
      try {
        handled = handle(req, res);
      } catch (err) {
        next(err);
        return;
      }
      if (!handled) next();
    },
    listener(req, res) {
      if (!handle(req, res)) sendText(res, 404, 'Not Found\n', req.method === 'HEAD');
    },
  };
}
