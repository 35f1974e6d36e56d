/**
 * The body of one agent: runs inside a piscina worker thread, for one domain and one job. It builds its
 * own transport and ACME client, serves AgentApi to the supervisor and calls HostApi for challenges,
 * progress and checkpoints. Job failures come back as data (typed); only bugs and dead threads escape.
 */
import { threadId } from 'node:worker_threads';
import { setMaxListeners } from 'node:events';
import { AcmeClient } from '../acme/client.js';
import { obtainCertificate, type AgentState, type FlowMilestone } from '../acme/flow.js';
import { AbortedError, ErrorCode, serializeError } from '../errors.js';
import { generateKeyPair } from '../crypto/keys.js';
import { AgentThreadResources, importAccountKey } from './thread-resources.js';
import { connectApi, exposeApi } from '../runtime/channel.js';
import type { AgentApi, AgentOutcome, AgentTask, HostApi } from './protocol.js';
import type { ChallengeToPresent } from '../acme/authorizations.js';
import type { PresentedChallenge } from '../acme/challenges.js';

/** How long one call to the supervisor may take before the agent gives up on it. */
const HOST_CALL_DEADLINE_MS = 30_000;

/**
 * Runs one agent job. `observe` sees each milestone of the flow, inside the thread: for tracing, and for
 * test entries that inject crashes at a precise point (see SupervisorOptions.agentEntry). `shared` are
 * the thread's connections, nonces and account key (workers/agent.ts); without it the job makes its own
 * and closes them when it ends.
 */
export async function runAgentJob(task: AgentTask, observe?: (m: FlowMilestone) => void, shared?: AgentThreadResources): Promise<AgentOutcome> {
  // A keygen permit comes when other agents' keys are made: its wait is bounded by the supervisor's queue.
  const host = connectApi<HostApi>(task.hostPort, { deadlineMs: HOST_CALL_DEADLINE_MS, peer: 'supervisor', untimed: ['keygenPermit'] });
  const abort = new AbortController();
  // Up to 100 authorizations wait and request at once, each listening on this one signal.
  setMaxListeners(0, abort.signal);
  let state: AgentState = 'idle';
  let orderUrl: string | undefined = task.resume?.orderUrl;
  const ongoing = new Map<string, string>();
  const api: AgentApi = {
    status: () => ({ state, orderUrl }),
    ongoingChallenges: () => Object.fromEntries(ongoing),
    stop: () => abort.abort(),
  };
  exposeApi(api, task.agentPort);
  const resources = shared ?? new AgentThreadResources();
  const transport = resources.transport({ caPem: task.acme.caPem, timeoutMs: task.acme.timeoutMs });
  try {
    // A shared account is imported once per thread; a throwaway account key is this agent's alone.
    const accountKey = task.acme.account
      ? resources.accountKey(task.acme.account)
      : await importAccountKey((await generateKeyPair('ec256')).privateKeyPem);
    const client = new AcmeClient({
      directory: task.acme.directory,
      transport,
      nonces: resources.nonces(task.acme.directory.newNonce, transport),
      accountKey,
      accountUrl: task.acme.account?.url,
      signal: abort.signal,
    });
    if (!task.acme.account) {
      // LEEC's throwaway-account mode: one fresh account per agent (RFC 8555 §7.3).
      await client.newAccount({ termsOfServiceAgreed: true, contact: task.acme.throwawayAccount?.contact ?? [] });
    }
    const certificate = await obtainCertificate(
      client,
      { names: task.names, keyType: task.keyType, challenge: task.challenge, order: task.order, resumeOrderUrl: task.resume?.orderUrl, resumeKeyPem: task.resume?.keyPem, poll: task.poll, preferredChain: task.preferredChain },
      {
        presentChallenge: async (c) => {
          ongoing.set(c.token, c.keyAuthorization);
          await host.presentChallenge(await toPresented(c));
          if (c.dns01 && task.dnsPropagation) {
            // Loaded on first use: an http-01 agent never pays for the DNS modules.
            const { waitForTxt } = await import('../dns/propagation.js');
            await waitForTxt({ ...c.dns01, ...task.dnsPropagation, signal: abort.signal });
          }
        },
        // dns-01 answers are served by DNS, which leec does not see queried: the usual first interval applies.
        challengeFetched: (c, withinMs) =>
          c.type === 'dns-01' ? Promise.resolve(false) : host.challengeFetched({ type: c.type, host: c.host, token: c.token }, withinMs),
        cleanupChallenge: async (c) => {
          ongoing.delete(c.token);
          await host.cleanupChallenge({ type: c.type, host: c.host, token: c.token, fqdn: c.dns01?.fqdn, value: c.dns01?.value });
        },
        progress: (s, detail) => {
          state = s;
          if (detail?.orderUrl) orderUrl = detail.orderUrl;
          void host.progress(s, { ...detail, threadId }).catch(() => undefined);
        },
        checkpoint: (c) => host.checkpoint(c),
        // An RSA key holds a thread of libuv's pool for 50 ms to seconds, so the supervisor bounds how
        // many its agents generate at once; an EC key takes well under a millisecond and is not bounded.
        keygenSlot: async (keyType, signal) => {
          if (!keyType.startsWith('rsa')) return () => undefined;
          // Given up when the flow ends first; a permit granted after that is handed back as this
          // incarnation ends (agent-child).
          await untilAborted(host.keygenPermit(), signal);
          return () => void host.keygenDone().catch(() => undefined);
        },
        milestone: (m) => observe?.(m),
      },
    );
    return { ok: true, certificate };
  } catch (e) {
    state = 'invalid';
    return { ok: false, error: serializeError(e) };
  } finally {
    if (!shared) resources.close();
    host.close();
    task.agentPort.close();
  }
}

/** `p`, or a rejection with AbortedError as soon as `signal` aborts. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new AbortedError(ErrorCode.aborted, 'stopped while waiting for a keygen permit', { step: 'keygen' }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AbortedError(ErrorCode.aborted, 'stopped while waiting for a keygen permit', { step: 'keygen' }));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * What the main thread publishes for a challenge. The tls-alpn-01 certificate (a key pair) is made here,
 * on the agent's thread, so the main thread spends no CPU on it (RFC 8737 §3).
 */
async function toPresented(c: ChallengeToPresent): Promise<PresentedChallenge> {
  if (c.type === 'dns-01' && c.dns01) return { type: 'dns-01', host: c.host, token: c.token, fqdn: c.dns01.fqdn, value: c.dns01.value };
  if (c.type === 'tls-alpn-01') {
    const { createTlsAlpnCertificate } = await import('../crypto/tls-alpn-certificate.js');
    const { certPem, keyPem } = await createTlsAlpnCertificate({ identifier: c.host, keyAuthorization: c.keyAuthorization });
    return { type: 'tls-alpn-01', host: c.host, token: c.token, certPem, keyPem };
  }
  return { type: 'http-01', host: c.host, token: c.token, keyAuthorization: c.keyAuthorization };
}
