/**
 * The in-memory http-01 challenge store (RFC 8555 §8.3): host + token → key authorization,
 * read by the main-thread responder. It is not an HTTP server (see http01-handler.ts) and
 * emits no events; agents fill it through the ChallengePublisher interface.
 */
import { ErrorCode, InvalidInputError } from '../errors.js';
import type { ChallengePublisher, PublishedChallenge } from './challenge-publisher.js';

/** The token alphabet of RFC 8555 §8.3: base64url without padding. */
export const TOKEN_RE = /^[A-Za-z0-9_-]+$/;

/**
 * The longest token accepted. RFC 8555 §8.3 sets no maximum (CAs send 43 characters); this cap
 * keeps `.<token>.<12 hex>.tmp` within a 255-byte file name in webroot mode and bounds lookups.
 */
export const MAX_TOKEN_LENGTH = 200;

/** True when `token` is a non-empty base64url string without padding (RFC 8555 §8.3) of at most MAX_TOKEN_LENGTH characters. */
export function isValidToken(token: unknown): token is string {
  return typeof token === 'string' && token.length <= MAX_TOKEN_LENGTH && TOKEN_RE.test(token);
}

/**
 * Normalizes a host or Host header: lowercased, port stripped (`[::1]:80` → `::1`,
 * `example.test:5002` → `example.test`), one trailing dot dropped; '' for a name still ending in
 * a dot (`example.test..`). Idempotent, so normalizing twice can never widen a match.
 */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    h = end === -1 ? h.slice(1) : h.slice(1, end);
  } else {
    const colon = h.indexOf(':');
    // A single colon is a port separator; several colons is a bare IPv6 address.
    if (colon !== -1 && h.indexOf(':', colon + 1) === -1) h = h.slice(0, colon);
  }
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h.endsWith('.') ? '' : h;
}

/**
 * In-memory http-01 key authorizations, keyed by lowercased host and token
 * (LEEC's challenge table; `ongoing` is its `get_ongoing_challenges`).
 */
export class ChallengeStore implements ChallengePublisher {
  readonly #byHost = new Map<string, Map<string, string>>();

  /** Stores a key authorization. Throws InvalidInputError for a non-base64url token or empty host. */
  async present(c: PublishedChallenge): Promise<void> {
    if (!isValidToken(c.token)) {
      throw new InvalidInputError(ErrorCode.invalidOption, `http-01 token must be base64url of at most ${MAX_TOKEN_LENGTH} characters (RFC 8555 §8.3)`, {
        step: 'challenge',
      });
    }
    if (typeof c.keyAuthorization !== 'string' || c.keyAuthorization === '') {
      throw new InvalidInputError(ErrorCode.invalidOption, 'http-01 key authorization must be a non-empty string', {
        step: 'challenge',
      });
    }
    const host = typeof c.host === 'string' ? normalizeHost(c.host) : '';
    if (host === '') {
      throw new InvalidInputError(ErrorCode.invalidOption, 'http-01 challenge host must be non-empty', {
        step: 'challenge',
      });
    }
    let tokens = this.#byHost.get(host);
    if (tokens === undefined) {
      tokens = new Map();
      this.#byHost.set(host, tokens);
    }
    tokens.set(c.token, c.keyAuthorization);
  }

  /** Removes a challenge; a no-op when it was never presented. */
  async cleanup(c: { host: string; token: string }): Promise<void> {
    if (typeof c.host !== 'string') return;
    const host = normalizeHost(c.host);
    const tokens = this.#byHost.get(host);
    if (tokens === undefined) return;
    tokens.delete(c.token);
    if (tokens.size === 0) this.#byHost.delete(host);
  }

  /** The key authorization for `host` (case-insensitive, port and trailing dot ignored) and `token`. */
  get(host: string, token: string): string | undefined {
    return this.#byHost.get(normalizeHost(host))?.get(token);
  }

  /** Token → key authorization of every challenge in flight for `host`. */
  ongoing(host: string): Record<string, string> {
    const out: Record<string, string> = {};
    const tokens = this.#byHost.get(normalizeHost(host));
    if (tokens !== undefined) for (const [t, ka] of tokens) out[t] = ka;
    return out;
  }

  /** Number of challenges held, over all hosts. */
  get size(): number {
    let n = 0;
    for (const tokens of this.#byHost.values()) n += tokens.size;
    return n;
  }
}
