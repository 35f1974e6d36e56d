/**
 * The supervisor's typed event surface (eventemitter3). Each event is a plain object so it can be logged
 * or forwarded as JSON. Never carries private keys or key authorizations.
 */
import type { AgentState } from './acme/flow.js';
import type { ChallengeType } from './acme/challenges.js';
import type { GateBlocker } from './lifecycle/rate-limit-gate.js';
import type { ScheduleReason } from './lifecycle/renewal-scheduler.js';
import type { LeecError } from './errors.js';
import type { CertificateResult } from './certificate-result.js';

export interface SupervisorEvents {
  /** An agent moved to a new LEEC state (idle, pending, valid, finalize, done, invalid). */
  state: (e: { domain: string; state: AgentState; incarnation: number; orderUrl?: string | undefined }) => void;
  /** A certificate was obtained, stored, and is now served by the SNI callback. */
  certificate: (e: CertificateResult) => void;
  /** A job ended because it was stopped (stop(domain) or shutdown), not because it failed. */
  stopped: (e: { domain: string }) => void;
  /** A job failed for good (after any restarts). */
  failure: (e: { domain: string; error: LeecError }) => void;
  /** A domain's agent died more than `maxAgentRestarts` times within `restartPeriodMs`: that domain gives up, alone. */
  'domain:gave-up': (e: { domain: string; error: LeecError }) => void;
  /** An agent's thread died and the agent is started again, resuming its order. */
  'agent:restart': (e: { domain: string; incarnation: number; error: LeecError }) => void;
  /** A challenge response was published (http-01 token, dns-01 TXT value, tls-alpn-01 certificate), before any challenge is answered. */
  'challenge:presented': (e: { domain: string; type: ChallengeType; host: string; token: string }) => void;
  /** A job waits at the rate-limit gate: `startsAt` (epoch ms) is when it can start as far as the limits tell, undefined when it waits for running jobs. */
  'job:queued': (e: { domain: string; startsAt: number | undefined; blockedBy: GateBlocker; key: string | undefined }) => void;
  /** A certificate's next renewal is set (epoch ms), inside the window it was drawn from. */
  'renewal:scheduled': (e: { domain: string; at: number; reason: ScheduleReason; windowStart?: number; windowEnd?: number }) => void;
  'renewal:started': (e: { domain: string; attempt: number }) => void;
  'renewal:succeeded': (e: { domain: string; attempt: number; notBefore: number; notAfter: number }) => void;
  /** A renewal failed; `nextAt` is the retry, on certmagic's ladder and never before the CA's Retry-After. */
  'renewal:failed': (e: { domain: string; attempt: number; nextAt: number | undefined; error?: unknown }) => void;
  /** Renewals have failed for 30 days; from now on, one attempt a day. */
  'renewal:gave-up': (e: { domain: string; attempts: number; firstFailureAt: number; nextAt: number | undefined }) => void;
  /** The domain left the schedule: its new certificate was due as soon as issued (ERR_RENEWAL_DUE_AT_ISSUANCE). */
  'renewal:halted': (e: { domain: string; error: LeecError }) => void;
  /** A responder answered the CA's validation request: an http-01 token, or a tls-alpn-01 handshake (no token). */
  'challenge:served': (e: { type: ChallengeType; host: string; token?: string | undefined }) => void;
}
