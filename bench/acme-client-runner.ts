/**
 * acme-client's benchmark cell, in the same process against the same Pebble: one Client, one account
 * made before the clock starts, then N `client.auto()` in parallel, each with a certificate key and CSR
 * from acme-client's own crypto. Trust and keep-alive go through its axios instance's httpsAgent (its
 * Client takes no agent option); requests are counted with an axios request interceptor.
 */
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import acme from 'acme-client';
import type { KeyType } from '../src/crypto/key-type.js';
import { ChallengeStore } from '../src/responder/challenge-store.js';
import { createHttp01Handler } from '../src/responder/http01-handler.js';
import { checkIssued, type CellContext } from './leec-runner.js';
import { cellRun, startMeter, type CellRun, type CertTimeline, type MeterReading } from './measure.js';

/** acme-client at its best on a local CA: first poll after 100 ms, doubling up to 5 s (leec's cap too). */
export const ACME_CLIENT_BACKOFF = { backoffMin: 100, backoffMax: 5_000, backoffAttempts: 30 } as const;

function certificateKey(keyType: KeyType): Promise<Buffer> {
  switch (keyType) {
    case 'rsa2048':
    case 'rsa3072':
    case 'rsa4096':
      return acme.crypto.createPrivateRsaKey(Number(keyType.slice(3)));
    case 'ec256':
      return acme.crypto.createPrivateEcdsaKey('P-256');
    case 'ec384':
      return acme.crypto.createPrivateEcdsaKey('P-384');
  }
}

export async function runAcmeClientCell(ctx: CellContext): Promise<CellRun> {
  const store = new ChallengeStore();
  const timelines = new Map<string, CertTimeline>();
  let t0 = Number.NaN;
  const at = (): number => performance.now() - t0;
  const handler = createHttp01Handler(store, {
    onServed: (host) => {
      const tl = timelines.get(host);
      if (tl && tl.served === undefined) tl.served = at();
    },
  });
  const ax = acme.axios;
  const agent = new https.Agent({ ca: ctx.caPem, keepAlive: true });
  const saved = { httpsAgent: ax.defaults.httpsAgent as unknown, proxy: ax.defaults.proxy };
  let requests = 0;
  const interceptor = ax.interceptors.request.use((config) => {
    requests += 1;
    return config;
  });
  ax.defaults.httpsAgent = agent;
  ax.defaults.proxy = false;
  ctx.responder.use(handler.listener);
  try {
    const client = new acme.Client({ directoryUrl: ctx.directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey('P-256'), ...ACME_CLIENT_BACKOFF });
    await client.createAccount({ termsOfServiceAgreed: true });
    const setupRequests = requests;

    const names = Array.from({ length: ctx.domains }, (_, i) => `a-${ctx.tag}-${i}.bench.test`);
    for (const n of names) timelines.set(n, { done: Number.NaN });
    const meter = startMeter({ serverCpuSeconds: ctx.serverCpuSeconds });
    t0 = meter.t0;
    let outcomes: Array<{ name: string; certPem: string; seconds: number }>;
    let reading: MeterReading;
    try {
      outcomes = await Promise.all(
        names.map(async (name) => {
          const started = performance.now();
          const tl = timelines.get(name)!;
          const key = await certificateKey(ctx.keyType);
          const [, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, key);
          const certPem = await client.auto({
            csr,
            challengePriority: ['http-01'],
            termsOfServiceAgreed: true,
            skipChallengeVerification: true,
            challengeCreateFn: async (authz, challenge, keyAuthorization) => {
              if (challenge.type !== 'http-01') throw new Error(`unexpected challenge ${challenge.type} for ${authz.identifier.value}`);
              await store.present({ host: authz.identifier.value, token: challenge.token, keyAuthorization });
              tl.presented ??= at();
            },
            challengeRemoveFn: async (authz, challenge) => {
              tl.validated ??= at();
              await store.cleanup({ host: authz.identifier.value, token: challenge.token });
            },
          });
          tl.done = at();
          return { name, certPem, seconds: (performance.now() - started) / 1000 };
        }),
      );
    } finally {
      reading = meter.stop();
    }
    for (const o of outcomes) checkIssued(o.name, o.certPem);
    const validations = [...timelines.values()].flatMap((t) => (t.validated !== undefined && t.presented !== undefined ? [t.validated - t.presented] : []));
    return cellRun({
      tool: 'acme-client',
      run: ctx.run,
      reading,
      perCertSeconds: outcomes.map((o) => o.seconds),
      certRequests: requests - setupRequests,
      setupRequests,
      timelines: [...timelines.values()],
      slowestValidationSeconds: validations.length > 0 ? Math.max(...validations) / 1000 : Number.NaN,
    });
  } finally {
    ctx.responder.use(undefined);
    ax.interceptors.request.eject(interceptor);
    ax.defaults.httpsAgent = saved.httpsAgent;
    ax.defaults.proxy = saved.proxy;
    agent.destroy();
  }
}
