/**
 * The authorizations of one order (RFC 8555 §7.5), worked in two phases: first every challenge response
 * is published (all of them, in parallel), then every challenge is answered at once and its authorization
 * polled until final. Publishing everything first matters for dns-01: a wildcard and its apex
 * (`*.example.test` + `example.test`) put two TXT values on one name, and the CA may look at the name as
 * soon as either challenge is answered, so both values must be there before either POST (§8.4).
 */
import { setMaxListeners } from 'node:events';
import { ChallengeFailedError, ErrorCode, type LeecError } from '../errors.js';
import type { AcmeClient } from './client.js';
import { challengeResponse, type ChallengeType } from './challenges.js';
import { pollUntil, type PollOptions } from './poll.js';
import { challengeFailedError } from './problem.js';
import type { Authorization, Challenge } from './types.js';

/** One challenge response for the caller to publish before the challenge is answered. */
export interface ChallengeToPresent {
  type: ChallengeType;
  /** The identifier's value; for a wildcard authorization, the name without `*.` (§7.1.3). */
  host: string;
  wildcard: boolean;
  token: string;
  keyAuthorization: string;
  /** dns-01 only: the TXT record name and value (§8.4). */
  dns01?: { fqdn: string; value: string } | undefined;
}

export interface AuthorizationHooks {
  /** Publish the response; MUST resolve only once it is served. Every one is published before any POST. */
  present(c: ChallengeToPresent): Promise<void>;
  /** Withdraw the response; MUST NOT require `present` to have succeeded. */
  cleanup(c: ChallengeToPresent): Promise<void>;
  /** A challenge was answered (POSTed). */
  answered(): void;
  /**
   * Optional: resolves true once the CA's validator fetched this response (the responder saw it), false
   * when it did not within `withinMs`. The first poll of the authorization then comes a moment after the
   * fetch instead of after the first poll interval.
   */
  fetched?(c: ChallengeToPresent, withinMs: number): Promise<boolean>;
}

/**
 * How long after the validator fetched a response the first poll waits: the CA still has to compare what
 * it fetched and record the result (a CA validating from several places fetches from each; if the poll
 * comes too early it finds the authorization pending, and polling goes on at the usual intervals).
 */
export const FETCH_SETTLE_MS = 30;

interface Worked {
  url: string;
  authz: Authorization;
  /** Undefined when the authorization was already valid (§7.1.4, reuse): nothing to answer. */
  challenge: Challenge | undefined;
  response: ChallengeToPresent | undefined;
}

/**
 * Works every authorization of the order with the `type` challenge. Resolves with the number of
 * challenges answered once all are valid. On the first failure the others stop; what is still pending is
 * deactivated (§7.5.2) so nothing lingers; every published response is withdrawn in all cases.
 */
export async function completeAuthorizations(
  client: AcmeClient,
  urls: string[],
  type: ChallengeType,
  hooks: AuthorizationHooks,
  poll: PollOptions,
): Promise<number> {
  const siblings = new AbortController();
  setMaxListeners(0, siblings.signal); // one listener per authorization: up to 100 (RFC 8555 allows more)
  const fail = (e: unknown): never => {
    if (!siblings.signal.aborted) siblings.abort(e);
    throw e;
  };
  // Authorizations that settle on their own: already final, or with a challenge the CA accepted (it is
  // validating; Pebble stalls other requests if such an authorization is deactivated mid-validation).
  const settling = new Set<string>();
  const published: ChallengeToPresent[] = [];
  const thumbprint = client.accountKey.thumbprint;
  try {
    // Phase 1: fetch every authorization and publish every response.
    const worked = await Promise.allSettled(
      urls.map(async (url): Promise<Worked> => {
        const authz = await client.getAuthorization(url);
        if (authz.status !== 'pending') settling.add(url);
        if (authz.status === 'valid') return { url, authz, challenge: undefined, response: undefined };
        if (authz.status !== 'pending') throw authorizationNotPending(authz);
        const challenge = authz.challenges.find((c) => c.type === type);
        if (!challenge) throw notOffered(authz, type);
        const host = authz.identifier.value;
        const r = challengeResponse(type, host, challenge.token, thumbprint);
        const response: ChallengeToPresent = { type, host, wildcard: authz.wildcard === true, token: challenge.token, keyAuthorization: r.keyAuthorization, dns01: r.dns01 };
        published.push(response);
        if (siblings.signal.aborted) throw siblings.signal.reason;
        await hooks.present(response);
        return { url, authz, challenge, response };
      }).map((p) => p.catch(fail)),
    );
    if (siblings.signal.aborted) throw siblings.signal.reason;
    // Phase 2: answer every challenge at once, then poll each authorization until it is final.
    const wait = waitUnless(client, siblings.signal);
    const answered = await Promise.allSettled(
      worked.map(async (w) => {
        const { url, challenge, response } = (w as PromiseFulfilledResult<Worked>).value;
        if (!challenge || !response) return false;
        let didAnswer = false;
        if (challenge.status === 'pending') {
          await client.respondChallenge(challenge.url);
          didAnswer = true;
          settling.add(url);
          hooks.answered();
        }
        // The CA has only just been asked to validate: a poll now would find it pending.
        await untilFetched(wait, hooks.fetched?.(response, poll.initialMs), poll.initialMs);
        const final = await pollUntil('authorization', `authorization of ${response.host}`, async () => {
          const r = await client.pollAuthorization(url);
          return { value: r.authorization, retryAfterMs: r.retryAfterMs };
        }, (a) => a.status !== 'pending', wait, poll);
        settling.add(url);
        if (final.status === 'valid') return didAnswer;
        if (final.status === 'invalid') {
          const failed = final.challenges.find((c) => c.type === type);
          // The CA's detail may quote the expected key authorization: never let it reach a log.
          throw challengeFailedError(response.host, type, failed?.error, [response.keyAuthorization]);
        }
        throw authorizationNotPending(final);
      }).map((p) => p.catch(fail)),
    );
    if (siblings.signal.aborted) throw siblings.signal.reason;
    return answered.filter((r) => r.status === 'fulfilled' && r.value).length;
  } catch (e) {
    // §7.5.2: this order will not be finalized; deactivate what it left pending so nothing lingers.
    await Promise.allSettled(urls.filter((url) => !settling.has(url)).map((url) => client.deactivateAuthorization(url)));
    throw e;
  } finally {
    await Promise.allSettled(published.map((c) => hooks.cleanup(c)));
  }
}

/**
 * The wait before an authorization's first poll (§7.5.1): `ms`, or FETCH_SETTLE_MS after `fetched` says
 * the validator fetched the response, whichever comes first. A stop or a failed sibling still ends it.
 */
async function untilFetched(wait: (ms: number) => Promise<void>, fetched: Promise<boolean> | undefined, ms: number): Promise<void> {
  if (fetched === undefined) return wait(ms);
  const timer = wait(ms).then(() => 'timeout' as const);
  // When the fetch wins, this timer runs out unobserved; its rejection (a stop meanwhile) is not an error.
  timer.catch(() => undefined);
  const first = await Promise.race([fetched.then((ok) => (ok ? ('fetched' as const) : ('none' as const)), () => 'none' as const), timer]);
  if (first === 'fetched') await wait(FETCH_SETTLE_MS);
  else if (first === 'none') await timer;
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

function notOffered(authz: Authorization, type: ChallengeType): LeecError {
  return new ChallengeFailedError(ErrorCode.challengeFailed, `the CA offers no ${type} challenge for ${authz.identifier.value}`, {
    step: 'authorization',
    data: { identifier: authz.identifier.value, offered: authz.challenges.map((c) => c.type) },
  });
}

function authorizationNotPending(a: Authorization): LeecError {
  // LEEC crashed on deactivated/expired/revoked (semantics §1.10); leec reports them as typed errors.
  return new ChallengeFailedError(ErrorCode.challengeFailed, `authorization of ${a.identifier.value} is ${a.status}`, {
    step: 'authorization',
    data: { identifier: a.identifier.value, status: a.status },
  });
}
