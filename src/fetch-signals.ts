/**
 * When the CA's validator fetched a published challenge response. The responders leec runs see the
 * validator's request (an http-01 GET answered 200, a tls-alpn-01 handshake completed), so an agent can
 * poll its authorization a moment after that (RFC 8555 §7.5.1) instead of after a blind first interval.
 * Only responses announced with `expect` are tracked (bounded by the challenges in flight); a signal is
 * only a hint: an agent that hears nothing polls on its usual schedule.
 */
import type { ChallengeType } from './acme/challenges.js';

/** http-01 is keyed by token (one per authorization); tls-alpn-01 by host (one certificate per name). */
export function fetchKey(c: { type: ChallengeType; host: string; token?: string | undefined }): string {
  return c.type === 'http-01' ? `http-01 ${c.token ?? ''}` : `${c.type} ${c.host.toLowerCase()}`;
}

interface Entry {
  fetched: boolean;
  waiters: Set<(fetched: boolean) => void>;
}

export class FetchSignals {
  readonly #entries = new Map<string, Entry>();

  /** A response is about to be published under `key`: from now on, a fetch of it is remembered. */
  expect(key: string): void {
    if (!this.#entries.has(key)) this.#entries.set(key, { fetched: false, waiters: new Set() });
  }

  /** The validator fetched `key`'s response. Unknown keys (never expected, or withdrawn) are ignored. */
  fetched(key: string): void {
    const e = this.#entries.get(key);
    if (e === undefined || e.fetched) return;
    e.fetched = true;
    for (const w of e.waiters) w(true);
    e.waiters.clear();
  }

  /**
   * Resolves true as soon as `key` was fetched (at once if it already was, which is common: the CA may
   * fetch before its answer to the challenge POST reaches the agent), false after `withinMs` or when
   * the response is withdrawn or was never expected. Never rejects; its timer is cleared when it settles.
   */
  wait(key: string, withinMs: number): Promise<boolean> {
    const e = this.#entries.get(key);
    if (e === undefined) return Promise.resolve(false);
    if (e.fetched) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const settle = (fetched: boolean): void => {
        clearTimeout(timer);
        e.waiters.delete(settle);
        resolve(fetched);
      };
      const timer = setTimeout(() => settle(false), Math.max(0, withinMs));
      e.waiters.add(settle);
    });
  }

  /** The response was withdrawn: forget it, and tell whoever still waits that no fetch will come. */
  forget(key: string): void {
    const e = this.#entries.get(key);
    if (e === undefined) return;
    this.#entries.delete(key);
    for (const w of [...e.waiters]) w(false);
  }

  /** Responses tracked (for tests: nothing is left once every challenge is withdrawn). */
  get size(): number {
    return this.#entries.size;
  }
}
