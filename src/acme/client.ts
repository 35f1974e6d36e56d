/**
 * AcmeClient: one method per RFC 8555 resource, over one transport and one account key. It signs every
 * request (§6.2), threads nonces (§7.2), retries `badNonce` with the fresh nonce the error carries (§6.5),
 * waits out short `Retry-After`s on 429/503 (§6.6), retries connection-level failures a bounded number of
 * times with backoff, each time re-signed over a fresh nonce (§6.5, §7.2), and decodes problems into typed
 * errors tagged with the step. It does not run the order flow (see flow.ts) and knows nothing of threads.
 */
import { AbortedError, ErrorCode, InvalidInputError, ProtocolError, type AcmeStep } from '../errors.js';
import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import type { FlattenedJWS } from 'jose';
import { jwsAlgorithmFor } from '../crypto/keys.js';
import { certificateIdentifier, isCertificateIdentifier, parseRenewalInfo, renewalInfoUrl, type RenewalInfo } from './ari.js';
import { signFlattened, signJws, type AccountKey } from './jws.js';
import { NoncePool } from './nonce-pool.js';
import { newOrderFields, type NewOrderOptions } from './order-options.js';
import { parseProblem, problemError, shortProblemType } from './problem.js';
import { parseRetryAfter } from './retry-after.js';
import {
  backoff,
  finalTransportError,
  isRetryableTransportError,
  transportBackoffMs,
  type HttpResponse,
  type HttpTransport,
  type RequestCounter,
} from './transport.js';
import type { Account, Authorization, Directory, Identifier, Order } from './types.js';

export type { RenewalInfo } from './ari.js';
export type { NewOrderOptions } from './order-options.js';

export interface AcmeClientOptions {
  directory: Directory;
  transport: HttpTransport;
  /** Nonces shared with other clients of the same CA (one worker thread's agents); default: the client's own. */
  nonces?: NoncePool | undefined;
  accountKey: AccountKey;
  /** The account URL (`kid`); set after newAccount, or given when the account is already known. */
  accountUrl?: string | undefined;
  /**
   * §6.5: how many times a `badNonce` is retried with a fresh nonce before giving up. 20 keeps a
   * request's failure odds near one in a million even when the CA rejects half of all nonces.
   */
  maxBadNonceRetries?: number;
  /** 429/503 whose Retry-After is at most this long are waited out and retried (re-signed). */
  maxInlineRetryAfterMs?: number;
  /** How many such 429/503 retries per request. */
  maxRetryAfterRetries?: number;
  /**
   * Retries of a connection-level failure (reset, refused, timeout before any response) per request;
   * default: the transport's (3). Each retry is re-signed over a fresh nonce (§6.5, §7.2).
   */
  maxTransportRetries?: number;
  /** First backoff before such a retry, then x4 capped at x8; default: the transport's (250 ms). */
  transportRetryBaseMs?: number;
  signal?: AbortSignal | undefined;
}

export interface CertificateDownload {
  pem: string;
  /** §7.4.2: `Link: <url>;rel="alternate"` chains offered by the CA. */
  alternates: string[];
}

/** `Link` header values with the given relation (RFC 8288), e.g. `up`, `alternate`, `index`. */
export function linksWithRel(res: HttpResponse, rel: string): string[] {
  const raw = res.headers.link;
  const values = Array.isArray(raw) ? raw : raw ? raw.split(/,(?=\s*<)/) : [];
  const out: string[] = [];
  for (const v of values) {
    const m = /^\s*<([^>]+)>\s*;(.*)$/.exec(v);
    if (m && new RegExp(`rel="?${rel}"?(\\s|;|$)`).test(m[2] ?? '')) out.push(m[1]!);
  }
  return out;
}

export class AcmeClient {
  readonly directory: Directory;
  readonly #transport: HttpTransport;
  readonly #nonces: NoncePool;
  /** This client's requests, also over a shared transport. */
  readonly #sent: RequestCounter = { requests: 0 };
  /** Replaced only by keyChange (§7.3.5). */
  #key: AccountKey;
  #accountUrl: string | undefined;
  readonly #maxBadNonce: number;
  readonly #maxInlineWait: number;
  readonly #maxRetryAfterRetries: number;
  readonly #maxTransportRetries: number;
  readonly #transportRetryBaseMs: number;
  readonly #signal: AbortSignal | undefined;

  constructor(opts: AcmeClientOptions) {
    this.directory = opts.directory;
    this.#transport = opts.transport;
    this.#nonces = opts.nonces ?? new NoncePool(opts.transport, opts.directory.newNonce);
    this.#key = opts.accountKey;
    this.#accountUrl = opts.accountUrl;
    this.#maxBadNonce = opts.maxBadNonceRetries ?? 20;
    this.#maxInlineWait = opts.maxInlineRetryAfterMs ?? 60_000;
    this.#maxRetryAfterRetries = opts.maxRetryAfterRetries ?? 3;
    this.#maxTransportRetries = opts.maxTransportRetries ?? opts.transport.maxTransportRetries;
    this.#transportRetryBaseMs = opts.transportRetryBaseMs ?? opts.transport.transportRetryBaseMs;
    this.#signal = opts.signal;
  }

  get accountUrl(): string | undefined {
    return this.#accountUrl;
  }

  get accountKey(): AccountKey {
    return this.#key;
  }

  /** Requests this client sent so far (every attempt, newNonce included). */
  get requestCount(): number {
    return this.#sent.requests;
  }

  #checkAborted(step: AcmeStep): void {
    if (this.#signal?.aborted) throw new AbortedError(ErrorCode.aborted, `stopped during ${step}`, { step });
  }

  /**
   * A signed POST (§6.2), or a POST-as-GET when `payload === ''` (§6.3). Uses `kid` once the account is
   * known, else `jwk` (§6.2: newAccount and revocation by certificate key).
   */
  async post(url: string, payload: unknown | '', step: AcmeStep, opts: { useJwk?: boolean; accept?: string } = {}): Promise<HttpResponse> {
    return this.#send(url, payload, step, opts);
  }

  /** `post`, optionally signed by another key than the account's (`signer`, always with `jwk`, §7.6). */
  async #send(
    url: string,
    payload: unknown | '',
    step: AcmeStep,
    opts: { useJwk?: boolean; accept?: string; signer?: AccountKey },
  ): Promise<HttpResponse> {
    let badNonces = 0;
    let waits = 0;
    let transportFailures = 0;
    let attempts = 0;
    const kid = opts.useJwk || opts.signer ? undefined : this.#accountUrl;
    const headers: Record<string, string> = { 'content-type': 'application/jose+json' };
    if (opts.accept) headers.accept = opts.accept;
    for (;;) {
      this.#checkAborted(step);
      attempts += 1;
      let res: HttpResponse;
      try {
        // RFC 8555 §6.5 / §7.2: every attempt is signed anew over a nonce never sent before (a kept one,
        // or a fresh one from GET newNonce when none is kept). After a connection failure the previous
        // nonce may have reached the CA and been consumed; resending it would only earn badNonce.
        const nonce = await this.#nonces.take({ retry: false, signal: this.#signal, count: this.#sent });
        const jws = signJws({ key: opts.signer ?? this.#key, url, nonce, kid, payload });
        res = await this.#transport.request({ method: 'POST', url, headers, body: JSON.stringify(jws), step, signal: this.#signal, count: this.#sent });
      } catch (e) {
        // Only connection-level failures before any response: not AbortedError, not a cut response, and
        // never an HTTP status (those are answers, handled below).
        if (isRetryableTransportError(e) && transportFailures < this.#maxTransportRetries) {
          transportFailures += 1;
          await backoff(transportBackoffMs(transportFailures, this.#transportRetryBaseMs), step, this.#signal);
          continue;
        }
        throw finalTransportError(e, attempts, step);
      }
      this.#nonces.harvest(res);
      if (res.status < 400) return res;
      const problem = parseProblem(res.body, res.status) ?? {
        type: res.status >= 500 ? 'urn:ietf:params:acme:error:serverInternal' : 'urn:ietf:params:acme:error:malformed',
        status: res.status,
        detail: `HTTP ${res.status} with no problem document`,
      };
      const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
      // RFC 8555 §6.5: "the client SHOULD retry the request using the new nonce" carried by the error.
      if (shortProblemType(problem.type) === 'badNonce' && badNonces < this.#maxBadNonce) {
        badNonces += 1;
        continue;
      }
      // §6.6 / RFC 9110: a short Retry-After on 429/503 is waited out here; longer ones go to the caller.
      if ((res.status === 429 || res.status === 503) && retryAfterMs !== undefined && retryAfterMs <= this.#maxInlineWait && waits < this.#maxRetryAfterRetries) {
        waits += 1;
        await this.#wait(retryAfterMs, step);
        continue;
      }
      throw problemError(problem, step, retryAfterMs);
    }
  }

  #wait(ms: number, step: AcmeStep): Promise<void> {
    return backoff(ms, step, this.#signal);
  }

  /** Polling delay helper honouring the abort signal (used by the flow). */
  wait(ms: number, step: AcmeStep): Promise<void> {
    return this.#wait(ms, step);
  }

  #json<T>(res: HttpResponse, step: AcmeStep): T {
    try {
      const v = JSON.parse(res.body.toString('utf8')) as unknown;
      if (typeof v !== 'object' || v === null) throw new Error('not an object');
      return v as T;
    } catch (cause) {
      throw new ProtocolError(ErrorCode.protocol, `malformed JSON from the ACME server at ${step} (HTTP ${res.status})`, {
        step,
        cause,
        data: { status: res.status },
      });
    }
  }

  #location(res: HttpResponse, step: AcmeStep): string {
    const loc = res.headers.location;
    if (typeof loc !== 'string' || loc === '') {
      throw new ProtocolError(ErrorCode.protocol, `no Location header at ${step} (HTTP ${res.status})`, { step });
    }
    return loc;
  }

  #expectStatus(res: HttpResponse, ok: number[], step: AcmeStep): void {
    if (!ok.includes(res.status)) {
      throw new ProtocolError(ErrorCode.protocol, `unexpected HTTP ${res.status} at ${step}, expected ${ok.join(' or ')}`, {
        step,
        data: { status: res.status },
      });
    }
  }

  /**
   * §7.3 newAccount. 201 creates, 200 returns the account already bound to this key (§7.3.1). The account
   * URL becomes the `kid` of every later request.
   */
  async newAccount(req: { contact?: string[]; termsOfServiceAgreed?: boolean; onlyReturnExisting?: boolean; externalAccountBinding?: unknown }): Promise<Account> {
    const res = await this.post(this.directory.newAccount, req, 'newAccount', { useJwk: true });
    this.#expectStatus(res, [200, 201], 'newAccount');
    const url = this.#location(res, 'newAccount');
    const body = this.#json<Omit<Account, 'url'>>(res, 'newAccount');
    this.#accountUrl = url;
    return { ...body, url, created: res.status === 201 };
  }

  /**
   * §7.4 newOrder: 201 with the order's Location. `opts` adds the requested validity (`notBefore`,
   * `notAfter`, §7.4), the certificate the order replaces (`replaces`, RFC 9773 §5) and a certificate
   * profile (`profile`, draft-aaron-acme-profiles); absent fields are not sent.
   *
   * @throws InvalidInputError (`ERR_INVALID_OPTION`, step `input`, `data.option`) before any request for a
   *   bad timestamp, notBefore not before notAfter, a `replaces` that is not a certID, or a profile the
   *   directory's `meta.profiles` does not list.
   */
  async newOrder(identifiers: Identifier[], opts: NewOrderOptions = {}): Promise<Order> {
    const extra = newOrderFields(opts, this.directory);
    const res = await this.post(this.directory.newOrder, { identifiers, ...extra }, 'newOrder');
    this.#expectStatus(res, [201], 'newOrder');
    return this.#order(res, this.#location(res, 'newOrder'), 'newOrder');
  }

  #order(res: HttpResponse, url: string, step: AcmeStep): Order {
    const o = this.#json<Omit<Order, 'url'>>(res, step);
    if (typeof o.status !== 'string' || !Array.isArray(o.authorizations) || typeof o.finalize !== 'string') {
      throw new ProtocolError(ErrorCode.protocol, `order object without status, authorizations or finalize at ${step}`, { step });
    }
    return { ...o, url };
  }

  /** POST-as-GET an order (§7.1.3), to poll or resume it, with the response's Retry-After (§7.4). */
  async pollOrder(url: string): Promise<{ order: Order; retryAfterMs: number | undefined }> {
    const res = await this.post(url, '', 'order');
    this.#expectStatus(res, [200], 'order');
    return { order: this.#order(res, url, 'order'), retryAfterMs: parseRetryAfter(res.headers['retry-after']) };
  }

  async getOrder(url: string): Promise<Order> {
    return (await this.pollOrder(url)).order;
  }

  /** POST-as-GET an authorization (§7.5), with the response's Retry-After. */
  async pollAuthorization(url: string): Promise<{ authorization: Authorization; retryAfterMs: number | undefined }> {
    const res = await this.post(url, '', 'authorization');
    this.#expectStatus(res, [200], 'authorization');
    const a = this.#json<Omit<Authorization, 'url'>>(res, 'authorization');
    if (typeof a.status !== 'string' || !Array.isArray(a.challenges) || typeof a.identifier !== 'object') {
      throw new ProtocolError(ErrorCode.protocol, 'authorization object without status, identifier or challenges', { step: 'authorization' });
    }
    return { authorization: { ...a, url }, retryAfterMs: parseRetryAfter(res.headers['retry-after']) };
  }

  async getAuthorization(url: string): Promise<Authorization> {
    return (await this.pollAuthorization(url)).authorization;
  }

  /** §7.5.1: POST `{}` to the challenge URL tells the CA to validate. */
  async respondChallenge(url: string): Promise<void> {
    const res = await this.post(url, {}, 'challenge');
    this.#expectStatus(res, [200], 'challenge');
  }

  /** §7.5.2: deactivate an authorization that will not be completed. */
  async deactivateAuthorization(url: string): Promise<void> {
    await this.post(url, { status: 'deactivated' }, 'authorization');
  }

  /** §7.4 finalize with the CSR's DER, base64url. Answers the order (Pebble: `processing`). */
  async finalize(order: Order, csrDer: Uint8Array): Promise<Order> {
    const res = await this.post(order.finalize, { csr: Buffer.from(csrDer).toString('base64url') }, 'finalize');
    this.#expectStatus(res, [200], 'finalize');
    return this.#order(res, order.url, 'finalize');
  }

  /** §7.4.2: download the PEM chain, with the alternate chains the CA offers. */
  async downloadCertificate(url: string): Promise<CertificateDownload> {
    const res = await this.post(url, '', 'download', { accept: 'application/pem-certificate-chain' });
    this.#expectStatus(res, [200], 'download');
    const pem = res.body.toString('utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ProtocolError(ErrorCode.protocol, 'certificate download is not a PEM chain', { step: 'download' });
    }
    return { pem, alternates: linksWithRel(res, 'alternate') };
  }

  /** Whether the CA offers ACME Renewal Information (RFC 9773 §3: a `renewalInfo` directory URL). */
  get supportsRenewalInfo(): boolean {
    return typeof this.directory.renewalInfo === 'string';
  }

  /** The certificate profiles the directory lists (draft-aaron-acme-profiles), name → description; {} if none. */
  get profiles(): Record<string, string> {
    const p = this.directory.meta?.profiles;
    return typeof p === 'object' && p !== null ? { ...p } : {};
  }

  /**
   * RFC 9773 §4.1 / §4.2: an unauthenticated GET of `{renewalInfo}/{certID}` for a certificate (PEM, DER)
   * or its certID; answers the suggested renewal window, the optional explanation URL and the
   * response's Retry-After (seconds or HTTP-date; §4.3: when to ask again). Connection-level failures
   * are retried (bounded) like every GET; a 429/503 is not waited out here, its Retry-After is in the
   * error's `data.retryAfterMs`.
   *
   * @throws InvalidInputError (`ERR_INVALID_OPTION`, step `input`) before any request when `cert` is
   *   neither a certID nor a certificate with an Authority Key Identifier.
   * @throws ProtocolError (`ERR_ACME_PROTOCOL`, step `renewalInfo`) before any request when the directory
   *   has no renewalInfo URL (`data.missing: 'renewalInfo'`); after it for a malformed RenewalInfo
   *   (`data.reason`) or an error status without a problem document (`data.status`).
   * @throws AcmeProblemError / RateLimitedError (step `renewalInfo`, `data.certId`) for a problem
   *   document, e.g. 404 for a certificate the CA does not know.
   */
  async getRenewalInfo(cert: string | Uint8Array): Promise<RenewalInfo> {
    const certId = isCertificateIdentifier(cert) ? cert : certificateIdentifier(cert);
    const base = this.directory.renewalInfo;
    if (typeof base !== 'string') {
      throw new ProtocolError(ErrorCode.protocol, 'the directory has no renewalInfo URL: the CA does not offer ACME Renewal Information (RFC 9773)', {
        step: RENEWAL_INFO_STEP,
        data: { missing: 'renewalInfo' },
      });
    }
    this.#checkAborted(RENEWAL_INFO_STEP);
    const res = await this.#transport.requestIdempotent({
      method: 'GET',
      url: renewalInfoUrl(base, certId),
      headers: { accept: 'application/json' },
      step: RENEWAL_INFO_STEP,
      signal: this.#signal,
      count: this.#sent,
    });
    const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
    if (res.status === 200) return parseRenewalInfo(res.body, retryAfterMs, certId);
    const problem = parseProblem(res.body, res.status);
    if (problem === undefined) {
      throw new ProtocolError(ErrorCode.protocol, `unexpected HTTP ${res.status} at ${RENEWAL_INFO_STEP} for ${certId}, expected 200`, {
        step: RENEWAL_INFO_STEP,
        data: { status: res.status, certId, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
      });
    }
    const err = problemError(problem, RENEWAL_INFO_STEP, retryAfterMs);
    Object.assign(err.data, { certId });
    throw err;
  }

  #requireAccountUrl(step: AcmeStep): string {
    if (this.#accountUrl === undefined) {
      throw new InvalidInputError(ErrorCode.invalidOption, `${step} needs the account URL: call newAccount first or pass accountUrl`, { step });
    }
    return this.#accountUrl;
  }

  #account(res: HttpResponse, url: string, step: AcmeStep): Account {
    const body = this.#json<Omit<Account, 'url'>>(res, step);
    if (typeof body.status !== 'string') {
      throw new ProtocolError(ErrorCode.protocol, `account object without status at ${step}`, { step });
    }
    return { ...body, url };
  }

  /**
   * §7.3.4 External Account Binding for this client's key: pass it as `externalAccountBinding` to
   * newAccount. `macKeyB64url` is the CA-issued MAC key, base64url with or without `=` padding.
   */
  async externalAccountBinding(kid: string, macKeyB64url: string): Promise<FlattenedJWS> {
    // Loaded on first use, with jose: agents never register accounts with EAB.
    const { externalAccountBinding } = await import('./eab.js');
    return externalAccountBinding(kid, macKeyB64url, this.#key.jwk, this.directory.newAccount);
  }

  /** §7.3.2: POST-as-GET the account object. */
  async getAccount(): Promise<Account> {
    const url = this.#requireAccountUrl(ACCOUNT_STEP);
    const res = await this.post(url, '', ACCOUNT_STEP);
    this.#expectStatus(res, [200], ACCOUNT_STEP);
    return this.#account(res, url, ACCOUNT_STEP);
  }

  /** §7.3.2: update the account's contact URLs; answers the updated account. */
  async updateAccount(update: { contact: string[] }): Promise<Account> {
    const url = this.#requireAccountUrl(ACCOUNT_STEP);
    const res = await this.post(url, { contact: update.contact }, ACCOUNT_STEP);
    this.#expectStatus(res, [200], ACCOUNT_STEP);
    return this.#account(res, url, ACCOUNT_STEP);
  }

  /**
   * §7.3.6: deactivate the account. Irreversible: the CA refuses every later request signed with its
   * `kid` (Pebble: 403 `unauthorized`).
   */
  async deactivateAccount(): Promise<Account> {
    const url = this.#requireAccountUrl(ACCOUNT_STEP);
    const res = await this.post(url, { status: 'deactivated' }, ACCOUNT_STEP);
    this.#expectStatus(res, [200], ACCOUNT_STEP);
    return this.#account(res, url, ACCOUNT_STEP);
  }

  /**
   * §7.3.5 account key rollover. The inner JWS is signed by the new key with `{alg, jwk, url}` (no nonce)
   * over `{account, oldKey}`; the outer one is an ordinary request signed by the current key (`kid`).
   * On success (200, any body) this client signs with `newKey` from then on; on failure it keeps the old key.
   */
  async keyChange(newKey: AccountKey): Promise<void> {
    const url = this.directory.keyChange;
    if (url === undefined) {
      throw new ProtocolError(ErrorCode.protocol, 'the directory has no keyChange URL', { step: KEY_CHANGE_STEP });
    }
    const account = this.#requireAccountUrl(KEY_CHANGE_STEP);
    const oldKey = this.#key;
    const inner = signFlattened({ alg: newKey.alg, jwk: newKey.jwk, url }, Buffer.from(JSON.stringify({ account, oldKey: oldKey.jwk })), newKey.privateKey);
    const res = await this.post(url, inner, KEY_CHANGE_STEP);
    this.#expectStatus(res, [200], KEY_CHANGE_STEP);
    this.#key = newKey;
  }

  /**
   * §7.6 revokeCert: `{certificate: base64url(DER), reason?}` signed by the account key (`kid`) or by the
   * certificate's own private key (`jwk`). 200 is success; a second revocation earns `alreadyRevoked`.
   * `reason` is an RFC 5280 §5.3.1 CRLReason code (e.g. 1 keyCompromise, 4 superseded).
   */
  async revokeCertificate(certDer: Uint8Array, opts: { reason?: number; signWith: 'account' | { certKey: KeyObject } }): Promise<void> {
    const url = this.directory.revokeCert;
    if (url === undefined) {
      throw new ProtocolError(ErrorCode.protocol, 'the directory has no revokeCert URL', { step: REVOKE_STEP });
    }
    if (opts.reason !== undefined && (!Number.isInteger(opts.reason) || opts.reason < 0 || opts.reason > 10 || opts.reason === 7)) {
      throw new InvalidInputError(ErrorCode.invalidOption, `revocation reason must be an RFC 5280 CRLReason code, got ${String(opts.reason)}`, { step: REVOKE_STEP });
    }
    const payload: { certificate: string; reason?: number } = { certificate: Buffer.from(certDer).toString('base64url') };
    if (opts.reason !== undefined) payload.reason = opts.reason;
    let res: HttpResponse;
    if (opts.signWith === 'account') {
      this.#requireAccountUrl(REVOKE_STEP);
      res = await this.post(url, payload, REVOKE_STEP);
    } else {
      const priv = opts.signWith.certKey;
      // Loaded on first use: an agent never revokes, and what signs its requests loads no jose.
      const { toAccountKey } = await import('./account-key.js');
      const signer = await toAccountKey(priv, createPublicKey(priv), jwsAlgorithmFor(priv));
      res = await this.#send(url, payload, REVOKE_STEP, { signer });
    }
    this.#expectStatus(res, [200], REVOKE_STEP);
  }
}

/** The steps named in errors of the account (§7.3), key-change (§7.3.5) and revocation (§7.6) requests. */
const ACCOUNT_STEP: AcmeStep = 'account';
const KEY_CHANGE_STEP: AcmeStep = 'keyChange';
const REVOKE_STEP: AcmeStep = 'revokeCert';
/** The step named in errors of the ARI request (RFC 9773 §4). */
const RENEWAL_INFO_STEP: AcmeStep = 'renewalInfo';
