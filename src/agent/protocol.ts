/**
 * The message protocol between the supervisor (main thread) and an agent (a piscina task on a worker
 * thread). Plain, structured-clone-safe data; the two MessagePorts are transferred with the task.
 */
import type { MessagePort } from 'node:worker_threads';
import type { JWK } from 'jose';
import type { SerializedError } from '../errors.js';
import type { KeyType } from '../crypto/key-type.js';
import type { AgentState, IssuedCertificate } from '../acme/flow.js';
import type { ChallengeType, PresentedChallenge, WithdrawnChallenge } from '../acme/challenges.js';
import type { PollOptions } from '../acme/poll.js';
import type { NewOrderOptions } from '../acme/order-options.js';
import type { Directory } from '../acme/types.js';

export const PROTOCOL_VERSION = 1 as const;

/** The compiled worker entry of an agent, resolved from dist/src/agent/ to dist/workers/. */
export const AGENT_ENTRY = new URL('../../workers/agent.js', import.meta.url).href;

/** The piscina task: one job (obtain a certificate) for one domain. */
export interface AgentTask {
  v: typeof PROTOCOL_VERSION;
  domain: string;
  /** 0 for the first run of a job, +1 at each restart after the thread died. */
  incarnation: number;
  names: string[];
  keyType: KeyType;
  /** The newOrder request's optional fields: validity, profile, and the certificate it replaces (RFC 9773). */
  order?: NewOrderOptions | undefined;
  /** The challenge answered for every authorization of the order. */
  challenge: ChallengeType;
  /**
   * dns-01: where the agent checks that each TXT value is visible before answering (servers `ip:port`;
   * none: the zone's authoritative servers), or false to skip the check.
   */
  dnsPropagation?: { servers?: string[] | undefined; timeoutMs: number; intervalMs: number } | false | undefined;
  acme: {
    directoryUrl: string;
    /** Fetched once by the supervisor and handed to every agent. */
    directory: Directory;
    caPem?: string | undefined;
    timeoutMs: number;
    /**
     * The shared account (PKCS#8 PEM, URL, and the public JWK and thumbprint the supervisor computed once);
     * absent in throwaway-account mode.
     */
    account?: { keyPem: string; url: string; jwk: JWK; thumbprint: string } | undefined;
    /** Throwaway-account mode (LEEC's default): the agent makes and registers its own key. */
    throwawayAccount?: { contact: string[] } | undefined;
  };
  resume?: { orderUrl: string; keyPem?: string | undefined } | undefined;
  poll?: Partial<PollOptions> | undefined;
  /** §7.4.2: the issuer CN of the preferred chain (SupervisorOptions.preferredChain). */
  preferredChain?: string | undefined;
  /** comlink, agent → supervisor: HostApi. */
  hostPort: MessagePort;
  /** comlink, supervisor → agent: AgentApi. */
  agentPort: MessagePort;
}

/** What the piscina task resolves with: the certificate, or the job's typed error as data. */
export type AgentOutcome = { ok: true; certificate: IssuedCertificate } | { ok: false; error: SerializedError };

/** Served by the main thread to each agent. The agent never touches the responder or the store itself. */
export interface HostApi {
  /** Publishes a challenge response (http-01 token, dns-01 TXT value, tls-alpn-01 certificate); resolves once served. */
  presentChallenge(c: PresentedChallenge): Promise<void>;
  /** Withdraws it; a no-op for one never published. */
  cleanupChallenge(c: WithdrawnChallenge): Promise<void>;
  /**
   * True once the CA's validator fetched the published http-01 or tls-alpn-01 response (a responder of the
   * main thread answered it), false when it did not within `withinMs` (also when another server serves it,
   * as with a webroot).
   */
  challengeFetched(c: { type: ChallengeType; host: string; token: string }, withinMs: number): Promise<boolean>;
  progress(state: AgentState, detail?: { orderUrl?: string | undefined; threadId?: number | undefined }): Promise<void>;
  checkpoint(c: { orderUrl: string; keyPem?: string }): Promise<void>;
  /**
   * Resolves once this agent may start an RSA key generation (the supervisor bounds how many run at once
   * on libuv's thread pool, SupervisorOptions.keygenConcurrency); `keygenDone` hands the permit back.
   * Permits still held when the agent's incarnation ends are handed back by the supervisor.
   */
  keygenPermit(): Promise<void>;
  keygenDone(): Promise<void>;
}

/** Served by each agent to the supervisor. */
export interface AgentApi {
  status(): { state: AgentState; orderUrl?: string | undefined };
  /** LEEC's get_ongoing_challenges: token → key authorization of this agent's live challenges. */
  ongoingChallenges(): Record<string, string>;
  /** Ends the job: aborts requests and polling, withdraws tokens; the task then rejects with AbortedError. */
  stop(): void;
}
