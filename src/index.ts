/**
 * leec's public surface: the Supervisor and what it takes and gives (options, events, results, errors),
 * plus the parts an embedding server may use on their own (responder, certificate cache, store).
 */
export { Supervisor, type ObtainOptions } from './supervisor.js';
export type { SupervisorOptions, Http01Mode, TlsAlpn01Mode, Dns01Options } from './options.js';
export type { ChallengeType } from './acme/challenges.js';
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
export type { Dns01Provider, Dns01Record } from './dns/provider.js';
export { challengeRecordName } from './dns/provider.js';
export { DNS_PROVIDERS, dnsProviderFromOptions } from './dns/registry.js';
export { createRfc2136Provider, type Rfc2136Options } from './dns/rfc2136.js';
export { createExecProvider, type ExecProviderOptions } from './dns/exec.js';
export { createOvhProvider, type OvhProviderOptions } from './dns/ovh.js';
export { createChalltestsrvProvider, type ChalltestsrvProviderOptions } from './dns/challtestsrv.js';
export { waitForTxt, type WaitForTxtOptions } from './dns/propagation.js';
export { TlsAlpn01Store, tlsAlpnServerName } from './responder/tls-alpn01-store.js';
export { listenTlsAlpn01, createTlsAlpn01Hook, type TlsAlpn01Listener, type TlsAlpn01Hook, type TlsAlpn01Options, type TlsAlpn01Fallback } from './responder/tls-alpn01.js';
export { createTlsAlpnCertificate } from './crypto/tls-alpn-certificate.js';
export { certificateIdentifier, type RenewalInfo } from './acme/ari.js';
export type { NewOrderOptions } from './acme/order-options.js';
export { AcmeClient } from './acme/client.js';
export { HttpTransport, type TransportOptions } from './acme/transport.js';
export { fetchDirectory } from './acme/directory.js';
export { type AccountKey } from './acme/jws.js';
export { toAccountKey } from './acme/account-key.js';
export type { Directory, Account, Order } from './acme/types.js';
export { LETS_ENCRYPT_PRODUCTION_LIMITS, LETS_ENCRYPT_STAGING_LIMITS, type RateLimits } from './lifecycle/rate-limit-presets.js';
export type { WindowLimit } from './lifecycle/token-bucket.js';
export type { GateBlocker } from './lifecycle/rate-limit-gate.js';
export type { ScheduleReason } from './lifecycle/renewal-scheduler.js';
export type { Clock } from './runtime/clock.js';
