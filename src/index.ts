/**
 * leec's public surface: the Supervisor and what it takes and gives (options, events, results, errors),
 * plus the parts an embedding server may use on their own (responder, certificate cache, store).
 */
export { Supervisor, type ObtainOptions } from './supervisor.js';
export type { SupervisorOptions, Http01Mode } from './options.js';
export type { SupervisorEvents } from './events.js';
export type { CertificateResult, ObtainOutcome } from './certificate-result.js';
export type { AgentState } from './acme/flow.js';
export type { Logger } from './logger.js';
export { LETS_ENCRYPT_PRODUCTION, LETS_ENCRYPT_STAGING } from './directories.js';
export { KEY_TYPES, DEFAULT_KEY_TYPE, type KeyType } from './crypto/key-type.js';
export { normalizeNames, normalizeName, validateName } from './names.js';
export {
  ErrorCode,
  LeecError,
  InvalidInputError,
  AcmeProblemError,
  BadNonceError,
  RateLimitedError,
  ChallengeFailedError,
  ProtocolError,
  TransportError,
  PollTimeoutError,
  ActorExitedError,
  AbortedError,
  StoreError,
  DnsError,
  serializeError,
  reviveError,
  type AcmeProblem,
  type AcmeStep,
  type SerializedError,
} from './errors.js';
export { ChallengeStore } from './responder/challenge-store.js';
export { createHttp01Handler, type Http01Handler } from './responder/http01-handler.js';
export { listenHttp01, type Http01Listener } from './responder/standalone.js';
export { WebrootPublisher } from './responder/webroot.js';
export type { ChallengePublisher } from './responder/challenge-publisher.js';
export { CertificateCache } from './tls/certificate-cache.js';
export { CertStore, type CertificatePaths, type StoredCertificateMeta } from './store/cert-store.js';
export { isDueForRenewal } from './renewal-window.js';
