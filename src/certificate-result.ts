/**
 * What obtaining a certificate returns, and LEEC's callback outcome shape. Plain data.
 */
import type { CertificatePaths } from './store/cert-store.js';
import type { LeecError } from './errors.js';
import type { KeyType } from './crypto/key-type.js';

export interface CertificateResult {
  domain: string;
  names: string[];
  keyType: KeyType;
  notBefore: string;
  notAfter: string;
  /** Where the files are: privkey.pem, cert.pem, chain.pem, fullchain.pem and LEEC's <domain>.key/.crt. */
  paths: CertificatePaths;
  fullchainPem: string;
  /** True when a stored certificate was still fresh and no order was placed. */
  reused: boolean;
  /** Challenges answered for this certificate (0 when every authorization was already valid). */
  challengesAnswered: number;
  /** ACME requests the agent sent for this certificate. */
  requests: number;
  /** The worker thread of the agent that obtained it (undefined when reused from the store). */
  threadId?: number | undefined;
  /** Milliseconds from the call to the stored certificate. */
  elapsedMs: number;
}

/** LEEC's async-mode outcome: `certificate_generation_success` / `certificate_generation_failure`. */
export type ObtainOutcome =
  | { status: 'success'; domain: string; certPath: string; keyPath: string; result: CertificateResult }
  | { status: 'failure'; domain: string; error: LeecError };
