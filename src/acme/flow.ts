/**
 * The order flow (RFC 8555 §7.4-§7.4.2) as one async function with named steps: order → authorizations
 * → http-01 challenges → finalize → download. It runs inside an agent's worker thread but knows nothing of
 * threads: challenge publishing, progress and checkpoints are hooks. It can resume an existing order.
 */
import { setMaxListeners } from 'node:events';
import { isIP } from 'node:net';
import { threadId } from 'node:worker_threads';
import { ChallengeFailedError, ErrorCode, LeecError, ProtocolError } from '../errors.js';
import { createCsr } from '../crypto/csr.js';
import { splitPemChain, describeCertificate } from '../crypto/certificate.js';
import { chooseChain } from './chain-choice.js';
import { generateKeyPair, loadPrivateKey } from '../crypto/keys.js';
import type { KeyType } from '../crypto/key-type.js';
import type { AcmeClient } from './client.js';
import { keyAuthorization } from './jws.js';
import { DEFAULT_POLL, pollUntil, type PollOptions } from './poll.js';
import { challengeFailedError, shortProblemType } from './problem.js';
import type { Authorization, Identifier, Order } from './types.js';

/**
 * LEEC's agent states: idle (started), pending (order placed, challenges under way), valid (every
 * authorization valid), finalize (CSR sent), then done or invalid.
 */
export type AgentState = 'idle' | 'pending' | 'valid' | 'finalize' | 'done' | 'invalid';

export interface Http01Challenge {
  host: string;
  token: string;
  keyAuthorization: string;
}

export interface FlowHooks {
  /** Publish the token; MUST resolve only once the responder serves it (it is called before the POST). */
  presentHttp01(c: Http01Challenge): Promise<void>;
  /** Withdraw the token; MUST NOT require present to have succeeded. */
  cleanupHttp01(c: { host: string; token: string }): Promise<void>;
  progress(state: AgentState, detail?: { orderUrl?: string }): void;
  /** Persist what a restarted agent needs to resume: the order URL, then the certificate key. */
  checkpoint(c: { orderUrl: string; keyPem?: string }): Promise<void>;
  /** Finer points of the flow, for tracing and fault-injection tests. */
  milestone?(m: FlowMilestone): void;
}

/** Reached after: the order is placed (or resumed), a challenge is answered, finalize is sent; before the download. */
export type FlowMilestone = 'orderPlaced' | 'challengeAnswered' | 'finalized' | 'downloading';

export interface ObtainRequest {
  names: string[];
  keyType: KeyType;
  /** Resume this order instead of creating one (after a crash). */
  resumeOrderUrl?: string | undefined;
  /** The certificate key saved at an earlier checkpoint of the resumed order. */
  resumeKeyPem?: string | undefined;
  poll?: Partial<PollOptions> | undefined;
  /**
   * §7.4.2: the issuer CN of the chain's topmost certificate to prefer among the default chain and the
   * `rel="alternate"` ones (as certbot's --preferred-chain). Unset: the default chain, no alternate fetched.
   */
  preferredChain?: string | undefined;
}

export interface IssuedCertificate {
  names: string[];
  keyType: KeyType;
  keyPem: string;
  csrPem: string;
  certPem: string;
  chainPem: string;
  fullchainPem: string;
  notBefore: string;
  notAfter: string;
  orderUrl: string;
  /** Challenges answered (authorizations that were already valid are skipped). */
  challengesAnswered: number;
  /** ACME requests this order cost. */
  requests: number;
  /** The worker thread that ran the agent (0 when run on the main thread). */
  threadId: number;
  timings: { keygenMs: number; totalMs: number };
}

/** §9.7.7 / RFC 8738: an IP literal is an `ip` identifier, anything else `dns`. */
export function toIdentifier(name: string): Identifier {
  return isIP(name) ? { type: 'ip', value: name } : { type: 'dns', value: name };
}

function orderFailed(order: Order, step: 'newOrder' | 'order' | 'finalize'): LeecError {
  const problem = typeof order.error === 'object' && order.error !== null ? (order.error as { type: string; detail?: string }) : undefined;
  return new LeecError(ErrorCode.orderInvalid, `order ${order.url} is ${order.status}${problem?.detail ? `: ${problem.detail}` : ''}`, {
    step,
    ...(problem ? { problem } : {}),
    data: { orderUrl: order.url, status: order.status },
  });
}

/** Obtains one certificate. Throws typed errors; always withdraws the tokens it published. */
export async function obtainCertificate(client: AcmeClient, req: ObtainRequest, hooks: FlowHooks): Promise<IssuedCertificate> {
  const started = Date.now();
  const requestsAtStart = client.requestCount;
  const poll: PollOptions = { ...DEFAULT_POLL, ...req.poll };
  const wait = (step: 'order' | 'authorization') => (ms: number) => client.wait(ms, step);
  hooks.progress('idle');

  // The certificate key is generated while the CA validates, not before: key generation (RSA above all)
  // fills libuv's thread pool, where jose's WebCrypto signatures also run, and would delay the
  // latency-critical first requests of every agent.
  let keygenMs = 0;
  let keyPromise: Promise<string> | undefined;
  const startKeygen = (): Promise<string> => {
    if (keyPromise) return keyPromise;
    const t = Date.now();
    keyPromise = req.resumeKeyPem
      ? Promise.resolve(req.resumeKeyPem)
      : generateKeyPair(req.keyType).then((k) => {
          keygenMs = Date.now() - t;
          return k.privateKeyPem;
        });
    keyPromise.catch(() => undefined); // awaited below; no unhandled rejection if the order fails first
    return keyPromise;
  };

  let order = await resumeOrCreate(client, req);
  await hooks.checkpoint({ orderUrl: order.url });
  hooks.milestone?.('orderPlaced');
  hooks.progress('pending', { orderUrl: order.url });

  let challengesAnswered = 0;
  if (order.status === 'pending') {
    const thumbprintJwk = client.accountKey.jwk;
    // All authorizations of the order are worked at once (§7.5). The first failure stops the others,
    // and every one withdraws its token before the failure is reported.
    const siblings = new AbortController();
    setMaxListeners(0, siblings.signal); // one listener per authorization: up to 100 (RFC 8555 allows more)
    // Authorizations that settle on their own: already final, or with a challenge the CA accepted (it is
    // validating; Pebble stalls other requests if such an authorization is deactivated mid-validation).
    const settling = new Set<string>();
    const settled = await Promise.allSettled(
      order.authorizations.map((url) =>
        completeAuthorization(client, url, thumbprintJwk, hooks, poll, startKeygen, siblings.signal, () => settling.add(url)).catch((e: unknown) => {
          if (!siblings.signal.aborted) siblings.abort(e);
          throw e;
        }),
      ),
    );
    if (siblings.signal.aborted) {
      // §7.5.2: this order will not be finalized; deactivate what it left pending so nothing lingers.
      await Promise.allSettled(order.authorizations.filter((url) => !settling.has(url)).map((url) => client.deactivateAuthorization(url)));
      throw siblings.signal.reason;
    }
    challengesAnswered = settled.filter((r) => r.status === 'fulfilled' && r.value).length;
    // Every authorization is valid, so the order is ready (§7.1.6): finalize without polling it first.
    order = { ...order, status: 'ready' };
  }
  if (order.status === 'invalid') throw orderFailed(order, 'order');
  hooks.progress('valid', { orderUrl: order.url });

  const keyPem = await startKeygen();
  const csr = createCsr({ privateKey: loadPrivateKey(keyPem), names: req.names });
  if (order.status === 'ready') {
    await hooks.checkpoint({ orderUrl: order.url, keyPem });
    hooks.progress('finalize', { orderUrl: order.url });
    order = await finalizeWhenReady(client, order, csr.der, poll);
    hooks.milestone?.('finalized');
  } else {
    hooks.progress('finalize', { orderUrl: order.url });
  }
  order = await pollUntil('order', `order ${order.url}`, async () => {
    const r = await client.pollOrder(order.url);
    return { value: r.order, retryAfterMs: r.retryAfterMs };
  }, (o) => o.status === 'valid' || o.status === 'invalid', wait('order'), poll);
  if (order.status === 'invalid') throw orderFailed(order, 'finalize');
  if (!order.certificate) throw new ProtocolError(ErrorCode.protocol, `valid order ${order.url} has no certificate URL`, { step: 'order' });

  hooks.milestone?.('downloading');
  const download = await client.downloadCertificate(order.certificate);
  let chainPem = download.pem;
  if (req.preferredChain !== undefined && download.alternates.length > 0) {
    const chains = [download.pem];
    for (const url of download.alternates) chains.push((await client.downloadCertificate(url)).pem);
    chainPem = chooseChain(chains, req.preferredChain).pem;
  }
  const pems = splitPemChain(chainPem);
  const leaf = pems[0]!;
  const info = describeCertificate(leaf);
  hooks.progress('done', { orderUrl: order.url });
  return {
    names: req.names,
    keyType: req.keyType,
    keyPem,
    csrPem: csr.pem,
    certPem: leaf,
    chainPem: pems.slice(1).join(''),
    fullchainPem: pems.join(''),
    notBefore: info.notBefore.toISOString(),
    notAfter: info.notAfter.toISOString(),
    orderUrl: order.url,
    challengesAnswered,
    requests: client.requestCount - requestsAtStart,
    threadId,
    timings: { keygenMs, totalMs: Date.now() - started },
  };
}

/**
 * §7.4 finalize. A CA may not have marked the order ready the instant its last authorization turned
 * valid; `orderNotReady` (§7.4) then means: poll the order until it leaves `pending`, and finalize.
 */
async function finalizeWhenReady(client: AcmeClient, order: Order, csrDer: Uint8Array, poll: PollOptions): Promise<Order> {
  try {
    return await client.finalize(order, csrDer);
  } catch (e) {
    if (!(e instanceof LeecError) || e.problem === undefined || shortProblemType(e.problem.type) !== 'orderNotReady') throw e;
  }
  const ready = await pollUntil('order', `order ${order.url}`, async () => {
    const r = await client.pollOrder(order.url);
    return { value: r.order, retryAfterMs: r.retryAfterMs };
  }, (o) => o.status !== 'pending', (ms) => client.wait(ms, 'order'), poll);
  if (ready.status !== 'ready') return ready;
  return client.finalize(ready, csrDer);
}

/** A resumable order is one still on its way; an invalid or expired one is replaced by a new order. */
async function resumeOrCreate(client: AcmeClient, req: ObtainRequest): Promise<Order> {
  if (req.resumeOrderUrl) {
    try {
      const o = await client.getOrder(req.resumeOrderUrl);
      const expired = o.expires !== undefined && Date.parse(o.expires) <= Date.now();
      // Past finalize, the certificate is for the key sent then: without that key, start afresh.
      const keyLost = (o.status === 'processing' || o.status === 'valid') && !req.resumeKeyPem;
      if (o.status !== 'invalid' && !expired && !keyLost) return o;
    } catch (e) {
      // The order may have been purged by the CA: a 404 problem means we start afresh.
      if (!(e instanceof LeecError) || e.problem === undefined) throw e;
    }
  }
  const order = await client.newOrder(req.names.map(toIdentifier));
  if (order.status === 'invalid') throw orderFailed(order, 'newOrder');
  return order;
}

/**
 * One authorization: skipped when already valid (§7.1.4, authorization reuse); otherwise the http-01
 * token is published first, then the challenge is answered, then the authorization polled until final.
 * Returns whether a challenge was answered.
 */
async function completeAuthorization(
  client: AcmeClient,
  url: string,
  jwk: Parameters<typeof keyAuthorization>[1],
  hooks: FlowHooks,
  poll: PollOptions,
  startKeygen: () => void,
  siblingFailed: AbortSignal,
  /** Called once the authorization will reach a final status without us: final already, or answered. */
  markSettling: () => void,
): Promise<boolean> {
  const wait = waitUnless(client, siblingFailed);
  const authz = await client.getAuthorization(url);
  if (authz.status !== 'pending') markSettling();
  if (authz.status === 'valid') return false;
  if (authz.status !== 'pending') throw authorizationNotPending(authz);
  const challenge = authz.challenges.find((c) => c.type === 'http-01');
  if (!challenge) {
    throw new ChallengeFailedError(ErrorCode.challengeFailed, `the CA offers no http-01 challenge for ${authz.identifier.value}`, {
      step: 'authorization',
      data: { identifier: authz.identifier.value, offered: authz.challenges.map((c) => c.type) },
    });
  }
  const host = authz.identifier.value;
  const token = challenge.token;
  let answered = false;
  const keyAuth = await keyAuthorization(token, jwk);
  try {
    await hooks.presentHttp01({ host, token, keyAuthorization: keyAuth });
    if (challenge.status === 'pending') {
      await client.respondChallenge(challenge.url);
      answered = true;
      markSettling();
      hooks.milestone?.('challengeAnswered');
    }
    startKeygen();
    // The CA has only just been asked to validate: a poll now would find it pending.
    await wait(poll.initialMs);
    const final = await pollUntil('authorization', `authorization of ${host}`, async () => {
      const r = await client.pollAuthorization(url);
      return { value: r.authorization, retryAfterMs: r.retryAfterMs };
    }, (a) => a.status !== 'pending', wait, poll);
    markSettling();
    if (final.status === 'valid') return answered;
    if (final.status === 'invalid') {
      const failed = final.challenges.find((c) => c.type === 'http-01');
      // The CA's detail may quote the expected key authorization: never let it reach a log.
      throw challengeFailedError(host, 'http-01', failed?.error, [keyAuth]);
    }
    throw authorizationNotPending(final);
  } finally {
    await hooks.cleanupHttp01({ host, token }).catch(() => undefined);
  }
}

/** The client's abortable wait, also cut short (by rejecting) when a sibling authorization failed. */
function waitUnless(client: AcmeClient, signal: AbortSignal): (ms: number) => Promise<void> {
  return async (ms) => {
    if (signal.aborted) throw signal.reason;
    let onAbort = (): void => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([client.wait(ms, 'authorization'), aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };
}

function authorizationNotPending(a: Authorization): LeecError {
  // LEEC crashed on deactivated/expired/revoked (semantics §1.10); leec reports them as typed errors.
  return new ChallengeFailedError(ErrorCode.challengeFailed, `authorization of ${a.identifier.value} is ${a.status}`, {
    step: 'authorization',
    data: { identifier: a.identifier.value, status: a.status },
  });
}
