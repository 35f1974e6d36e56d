/**
 * The order flow (RFC 8555 §7.4-§7.4.2) as one async function with named steps: order → authorizations
 * → challenges (http-01, dns-01 or tls-alpn-01; see authorizations.ts) → finalize → download. It runs inside an agent's worker thread but knows nothing of
 * threads: challenge publishing, progress and checkpoints are hooks. It can resume an existing order.
 */
import type { KeyObject } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import { ErrorCode, LeecError, ProtocolError } from '../errors.js';
import { createCsr } from '../crypto/csr.js';
import { ipLiteralFamily } from '../crypto/ip-literal.js';
import { splitPemChain, describeCertificate } from '../crypto/certificate.js';
import { chooseChain } from './chain-choice.js';
import { generateKeyPair, loadPrivateKey } from '../crypto/keys.js';
import type { KeyType } from '../crypto/key-type.js';
import type { AcmeClient } from './client.js';
import type { NewOrderOptions } from './order-options.js';
import { completeAuthorizations, type ChallengeToPresent } from './authorizations.js';
import type { ChallengeType } from './challenges.js';
import { DEFAULT_POLL, pollUntil, type PollOptions } from './poll.js';
import { shortProblemType } from './problem.js';
import type { Identifier, Order } from './types.js';

/**
 * LEEC's agent states: idle (started), pending (order placed, challenges under way), valid (every
 * authorization valid), finalize (CSR sent), then done or invalid.
 */
export type AgentState = 'idle' | 'pending' | 'valid' | 'finalize' | 'done' | 'invalid';

export interface FlowHooks {
  /** Publish a challenge response; MUST resolve only once it is served. All are published before any is answered. */
  presentChallenge(c: ChallengeToPresent): Promise<void>;
  /** Withdraw it; MUST NOT require present to have succeeded. */
  cleanupChallenge(c: ChallengeToPresent): Promise<void>;
  /** Optional: true once the CA's validator fetched the response, false if not within `withinMs` (see AuthorizationHooks.fetched). */
  challengeFetched?(c: ChallengeToPresent, withinMs: number): Promise<boolean>;
  progress(state: AgentState, detail?: { orderUrl?: string }): void;
  /** Persist what a restarted agent needs to resume: the order URL, then the certificate key. */
  checkpoint(c: { orderUrl: string; keyPem?: string }): Promise<void>;
  /**
   * Optional: resolves with a release function once this flow may generate its certificate key of
   * `keyType` (a bound on key generations at once, shared with other flows); released when the key is
   * made. `signal` aborts when the flow ends before: the wait is then given up (reject).
   */
  keygenSlot?(keyType: KeyType, signal: AbortSignal): Promise<() => void>;
  /** Finer points of the flow, for tracing and fault-injection tests. */
  milestone?(m: FlowMilestone): void;
}

/**
 * Reached after: the order is placed (or resumed), a challenge is answered, finalize is sent; before the
 * download. keygenStarted / keyGenerated: the certificate key's generation starts (its keygen slot
 * granted) and ends (not reached for a key resumed from a checkpoint).
 */
export type FlowMilestone = 'orderPlaced' | 'challengeAnswered' | 'finalized' | 'downloading' | 'keygenStarted' | 'keyGenerated';

export interface ObtainRequest {
  names: string[];
  keyType: KeyType;
  /**
   * The newOrder request's optional fields (§7.4 notBefore/notAfter, RFC 9773 §5 replaces, profile). A CA
   * that refuses `replaces` as alreadyReplaced gets the order again without it.
   */
  order?: NewOrderOptions | undefined;
  /** The challenge type answered for every authorization of the order. Default http-01. */
  challenge?: ChallengeType | undefined;
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
  /** keygenMs: generating the certificate key (not the wait for a keygen slot); totalMs: the whole flow. */
  timings: { keygenMs: number; totalMs: number };
}

/** §9.7.7 / RFC 8738: an IP literal is an `ip` identifier, anything else `dns`. */
export function toIdentifier(name: string): Identifier {
  return ipLiteralFamily(name) !== 0 ? { type: 'ip', value: name } : { type: 'dns', value: name };
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

  // The certificate key is generated once the order is placed, while it is validated: RSA keys take
  // longest, and nothing of the flow waits for the key before finalize (an order the CA refuses, e.g.
  // rateLimited, costs no key). It runs on libuv's thread pool, which the flow's signatures (node:crypto,
  // synchronous) do not use; `keygenSlot` bounds how many key generations the supervisor's agents run at
  // once, so the pool keeps a thread for the store's writes. A flow that fails settles its key first, so
  // no generation outlives it (and its slot).
  let keygenMs = 0;
  const keygenGivenUp = new AbortController();
  let keyPromise: Promise<{ pem: string; key: KeyObject }> | undefined;
  const startKeygen = (): Promise<{ pem: string; key: KeyObject }> => {
    if (keyPromise) return keyPromise;
    const resumed = req.resumeKeyPem;
    keyPromise = resumed !== undefined
      ? Promise.resolve().then(() => ({ pem: resumed, key: loadPrivateKey(resumed) }))
      : generateWithin(hooks.keygenSlot, req.keyType, keygenGivenUp.signal, {
          started: () => hooks.milestone?.('keygenStarted'),
          done: (ms) => {
            keygenMs = ms;
            hooks.milestone?.('keyGenerated');
          },
        }).then((k) => ({ pem: k.privateKeyPem, key: k.privateKey }));
    keyPromise.catch(() => undefined); // awaited below; no unhandled rejection if the order fails first
    return keyPromise;
  };

  let order = await resumeOrCreate(client, req);
  void startKeygen();
  try {
    return await afterOrder();
  } catch (e) {
    keygenGivenUp.abort();
    await keyPromise?.catch(() => undefined);
    throw e;
  }

  async function afterOrder(): Promise<IssuedCertificate> {
    await hooks.checkpoint({ orderUrl: order.url });
    hooks.milestone?.('orderPlaced');
    hooks.progress('pending', { orderUrl: order.url });

    let challengesAnswered = 0;
    if (order.status === 'pending') {
      challengesAnswered = await completeAuthorizations(client, order.authorizations, req.challenge ?? 'http-01', {
        present: (c) => hooks.presentChallenge(c),
        cleanup: (c) => hooks.cleanupChallenge(c),
        answered: () => hooks.milestone?.('challengeAnswered'),
        ...(hooks.challengeFetched ? { fetched: (c: ChallengeToPresent, ms: number) => hooks.challengeFetched!(c, ms) } : {}),
      }, poll);
      // Every authorization is valid, so the order is ready (§7.1.6): finalize without polling it first.
      order = { ...order, status: 'ready' };
    }
    if (order.status === 'invalid') throw orderFailed(order, 'order');
    hooks.progress('valid', { orderUrl: order.url });

    const { pem: keyPem, key: certificateKey } = await startKeygen();
    const csr = createCsr({ privateKey: certificateKey, names: req.names });
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
}

/**
 * A key pair of `keyType`, generated once `slot` (when given) grants a place (a wait given up when
 * `givenUp` aborts); `on.started` is told when the generation itself starts, `on.done` how long it took,
 * before the place is released.
 */
async function generateWithin(
  slot: FlowHooks['keygenSlot'],
  keyType: KeyType,
  givenUp: AbortSignal,
  on: { started(): void; done(ms: number): void },
): Promise<Awaited<ReturnType<typeof generateKeyPair>>> {
  const release = slot ? await slot(keyType, givenUp) : undefined;
  try {
    const t = Date.now();
    on.started();
    const pair = await generateKeyPair(keyType);
    on.done(Date.now() - t);
    return pair;
  } finally {
    release?.();
  }
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
/** §7.1.6: the order states that can still lead to a certificate. */
const RESUMABLE_ORDER_STATUSES: ReadonlySet<string> = new Set(['pending', 'ready', 'processing', 'valid']);

async function resumeOrCreate(client: AcmeClient, req: ObtainRequest): Promise<Order> {
  if (req.resumeOrderUrl) {
    try {
      const o = await client.getOrder(req.resumeOrderUrl);
      const expired = o.expires !== undefined && Date.parse(o.expires) <= Date.now();
      // Past finalize, the certificate is for the key sent then: without that key, start afresh.
      const keyLost = (o.status === 'processing' || o.status === 'valid') && !req.resumeKeyPem;
      // Only the §7.1.6 states an order moves on from: `invalid`, and anything else a CA reports (Pebble
      // says `deactivated` once a failed order's authorizations were deactivated), can never be finalized.
      if (RESUMABLE_ORDER_STATUSES.has(o.status) && !expired && !keyLost) return o;
    } catch (e) {
      // The order may have been purged by the CA: a 404 problem means we start afresh.
      if (!(e instanceof LeecError) || e.problem === undefined) throw e;
    }
  }
  const identifiers = req.names.map(toIdentifier);
  const order = await client.newOrder(identifiers, req.order).catch((e: unknown) => {
    // RFC 9773 §5: the certificate was already replaced (by an order of an earlier run): `replaces` is a
    // hint to the CA, not a condition of issuance, so order without it.
    if (req.order?.replaces === undefined || !(e instanceof LeecError) || e.problem === undefined || shortProblemType(e.problem.type) !== 'alreadyReplaced') throw e;
    return client.newOrder(identifiers, { ...req.order, replaces: undefined });
  });
  if (order.status === 'invalid') throw orderFailed(order, 'newOrder');
  return order;
}
