/**
 * Automatic renewal, as the supervisor wires it: the RenewalScheduler (lifecycle/) as a permanent child
 * of the supervision tree, the ARI window of a new certificate when the CA offers ARI (RFC 9773), and
 * what a renewal's outcome means to the scheduler (a Retry-After is honoured).
 */
import { createPublicKey } from 'node:crypto';
import { AcmeClient } from './acme/client.js';
import { toAccountKey } from './acme/account-key.js';
import { HttpTransport } from './acme/transport.js';
import type { Directory } from './acme/types.js';
import { CHALLENGE_TYPES, type ChallengeType } from './acme/challenges.js';
import { jwsAlgorithmFor, loadPrivateKey } from './crypto/keys.js';
import { LeecError } from './errors.js';
import type { RenewalScheduler, RenewOutcome } from './lifecycle/renewal-scheduler.js';
import type { ChildSpec } from './runtime/supervisor-tree.js';

/** The scheduler as a tree child: it runs until the tree stops it, which clears its one timer. */
export function schedulerSpec(scheduler: RenewalScheduler): ChildSpec {
  return {
    id: 'scheduler',
    restart: 'permanent',
    shutdownMs: 1000,
    async start() {
      let stopped!: () => void;
      const exited = new Promise<{ kind: 'shutdown' }>((resolve) => (stopped = () => resolve({ kind: 'shutdown' })));
      return {
        id: 'scheduler',
        exited,
        async stop() {
          scheduler.stop();
          stopped();
        },
      };
    },
  };
}

/** A failed renewal as the scheduler takes it: with the CA's Retry-After when the error carries one. */
export function failedRenewal(error: unknown): RenewOutcome {
  const retryAfterMs = error instanceof LeecError && typeof error.data['retryAfterMs'] === 'number' ? error.data['retryAfterMs'] : undefined;
  return { ok: false, retryAfterMs, error };
}

/**
 * Which challenge renews a stored certificate: dns-01 when a name is a wildcard, else the one it was
 * obtained with (its meta.json says, also after a restart), else the supervisor's default.
 */
export function renewalChallenge(names: readonly string[], last: string | undefined, fallback: ChallengeType): ChallengeType {
  if (names.some((n) => n.startsWith('*.'))) return 'dns-01';
  return (CHALLENGE_TYPES as readonly string[]).includes(last ?? '') ? (last as ChallengeType) : fallback;
}

/**
 * The CA's suggested renewal windows (RFC 9773 §4.2), for one supervisor: one keep-alive transport and one
 * client, made on first use and closed with the supervisor. `window()` answers undefined when the CA has no
 * ARI, there is no shared account key to build a client with, or the request fails: the lifetime rule
 * then applies (ARI only ever moves a renewal earlier).
 */
export class RenewalInfoSource {
  readonly #opts: { directory: Directory; caPem: string | undefined; timeoutMs: number; accountKeyPem: string | undefined };
  #transport: HttpTransport | undefined;
  #client: Promise<AcmeClient> | undefined;
  #closed = false;

  constructor(opts: { directory: Directory; caPem: string | undefined; timeoutMs: number; accountKeyPem: string | undefined }) {
    this.#opts = opts;
  }

  /** Whether windows can be asked for at all. */
  get available(): boolean {
    return !this.#closed && this.#opts.directory.renewalInfo !== undefined && this.#opts.accountKeyPem !== undefined;
  }

  async window(certPem: string): Promise<{ start: Date; end: Date } | undefined> {
    if (!this.available) return undefined;
    try {
      const info = await (await this.#clientOnce()).getRenewalInfo(certPem);
      return info.suggestedWindow;
    } catch {
      return undefined;
    }
  }

  close(): void {
    this.#closed = true;
    this.#transport?.close();
  }

  #clientOnce(): Promise<AcmeClient> {
    this.#client ??= (async () => {
      const transport = new HttpTransport({ caPem: this.#opts.caPem, timeoutMs: this.#opts.timeoutMs });
      this.#transport = transport;
      const privateKey = loadPrivateKey(this.#opts.accountKeyPem!);
      const accountKey = await toAccountKey(privateKey, createPublicKey(privateKey), jwsAlgorithmFor(privateKey));
      return new AcmeClient({ directory: this.#opts.directory, transport, accountKey });
    })();
    return this.#client;
  }
}
