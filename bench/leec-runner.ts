/**
 * leec's benchmark cell: a fresh Supervisor (temp store, fresh account, embedded http-01 served through
 * the shared responder, maxConcurrentAgents = --agents) and N obtainCertificate
 * calls in parallel. Setup requests (directory, nonce, newAccount) are counted on the main thread's
 * `http.client.request.start` diagnostics channel; the agents' own requests come from each result.
 * Each agent's phases are timestamped for the Gantt chart: `state` events as they arrive here, and the
 * thread-side points posted by bench/agent-entry.ts (the Supervisor runs that entry, leec's own agent
 * wrapped).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { CertificateResult } from '../src/certificate-result.js';
import type { KeyType } from '../src/crypto/key-type.js';
import { Supervisor } from '../src/supervisor.js';
import { PHASE_CHANNEL, type PhaseMessage } from './agent-entry.js';
import { cellRun, median, startMeter, type CellRun, type CertTimeline, type MeterReading } from './measure.js';
import { slowestValidationMs, type AgentTimeline } from './phases.js';
import type { SharedResponder } from './responder.js';

/** What a cell needs from the bench: where the CA is, who answers its validator, and what to order. */
export interface CellContext {
  directoryUrl: string;
  caPem: string;
  responder: SharedResponder;
  domains: number;
  keyType: KeyType;
  /** leec's maxConcurrentAgents. */
  agents: number;
  /** leec's agentsPerThread. */
  agentsPerThread: number;
  /** Run number. */
  run: number;
  /** Cell and run (`c3r2`), part of every name so no two orders on one Pebble share an identifier. */
  tag: string;
  /** Cumulative CPU seconds of the Pebble process (NaN when unknown). */
  serverCpuSeconds: () => number;
  /** Scratch space, removed by the caller. */
  tmpRoot: string;
}

const HTTP_CLIENT_START = 'http.client.request.start';
/** dist/bench/agent-entry.js, next to this file once compiled. */
const BENCH_AGENT_ENTRY = new URL('./agent-entry.js', import.meta.url).href;

/** Checks the certificate is for `name` (outside the timed region). */
export function checkIssued(name: string, pem: string): void {
  const cert = new X509Certificate(pem);
  if (cert.checkHost(name, { subject: 'never' }) === undefined) throw new Error(`certificate for ${name} does not cover it: ${cert.subjectAltName}`);
}

export async function runLeecCell(ctx: CellContext): Promise<CellRun> {
  let mainThreadRequests = 0;
  const onRequest = (): void => {
    mainThreadRequests += 1;
  };
  diagnosticsChannel.subscribe(HTTP_CLIENT_START, onRequest);
  const channel = new BroadcastChannel(PHASE_CHANNEL);
  const storeDir = await mkdtemp(path.join(ctx.tmpRoot, `leec-${ctx.run}-`));
  let sup: Supervisor | undefined;
  try {
    sup = await Supervisor.start({
      directoryUrl: ctx.directoryUrl,
      caBundle: ctx.caPem,
      storeDir,
      keyType: ctx.keyType,
      maxConcurrentAgents: ctx.agents,
      agentsPerThread: ctx.agentsPerThread,
      http01: { mode: 'embedded' },
      agentEntry: BENCH_AGENT_ENTRY,
    });
    const supervisor = sup;
    const setupRequests = mainThreadRequests;
    ctx.responder.use(supervisor.http01.listener);

    const names = Array.from({ length: ctx.domains }, (_, i) => `l-${ctx.tag}-${i}.bench.test`);
    const timelines = new Map<string, CertTimeline>(names.map((n) => [n, { done: Number.NaN }]));
    const agents = new Map<string, AgentTimeline>(names.map((n) => [n, { domain: n, called: 0, restarts: 0 }]));
    const meter = startMeter({ serverCpuSeconds: ctx.serverCpuSeconds });
    const at = (): number => performance.now() - meter.t0;
    // Absolute time (another thread's performance.timeOrigin + now()) to ms after the meter's start.
    const fromAbsolute = (abs: number): number => abs - (performance.timeOrigin + meter.t0);
    channel.onmessage = (ev: MessageEvent) => {
      const m = ev.data as PhaseMessage;
      const a = agents.get(m.domain);
      if (!a) return;
      a.started = fromAbsolute(m.started);
      for (const p of m.milestones) {
        if (p.milestone === 'challengeAnswered') a.answered ??= fromAbsolute(p.at);
        else if (p.milestone === 'downloading') a.downloading = fromAbsolute(p.at);
        else if (p.milestone === 'keygenStarted') a.keygenStart = fromAbsolute(p.at);
      }
      if (m.outcome?.ok) {
        a.keygenMs = m.outcome.keygenMs;
      }
    };
    supervisor.on('agent:restart', (e) => {
      const a = agents.get(e.domain);
      if (a) a.restarts += 1;
    });
    // leec-only milestones: the agent's thread is up (LEEC state idle) and its order is placed (pending).
    const agentUp: number[] = [];
    const orderPlaced: number[] = [];
    supervisor.on('challenge:presented', (e) => {
      const tl = timelines.get(e.host);
      if (tl && tl.presented === undefined) tl.presented = at();
    });
    supervisor.on('challenge:served', (e) => {
      const tl = timelines.get(e.host);
      if (tl && tl.served === undefined) tl.served = at();
    });
    supervisor.on('state', (e) => {
      const a = agents.get(e.domain);
      if (a && (e.state === 'idle' || e.state === 'pending' || e.state === 'valid' || e.state === 'finalize' || e.state === 'done')) a[e.state] = at();
      const tl = timelines.get(e.domain);
      if (e.state === 'idle') agentUp.push(at());
      else if (e.state === 'pending') orderPlaced.push(at());
      else if (tl && e.state === 'valid' && tl.validated === undefined) tl.validated = at();
    });

    let results: CertificateResult[];
    let reading: MeterReading;
    try {
      results = await Promise.all(
        names.map((n) =>
          supervisor.obtainCertificate(n).then((r) => {
            const t = at();
            const tl = timelines.get(n);
            if (tl) tl.done = t;
            const a = agents.get(n);
            if (a) {
              a.result = t;
              a.threadId = r.threadId;
            }
            return r;
          }),
        ),
      );
    } finally {
      reading = meter.stop();
    }

    // Messages posted by the agents' threads just before they returned may still be in flight.
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const r of results) {
      if (r.reused) throw new Error(`leec reused a stored certificate for ${r.domain}`);
      checkIssued(r.domain, r.fullchainPem);
    }
    const perCert = results.map((r) => r.requests);
    const duringCell = mainThreadRequests - setupRequests;
    return cellRun({
      tool: 'leec',
      run: ctx.run,
      reading,
      perCertSeconds: results.map((r) => r.elapsedMs / 1000),
      certRequests: perCert.reduce((a, b) => a + b, 0) + duringCell,
      setupRequests,
      timelines: [...timelines.values()],
      slowestValidationSeconds: slowestValidationMs([...agents.values()]) / 1000,
      agentTimelines: [...agents.values()],
      extra: {
        minRequestsOneCert: Math.min(...perCert),
        maxRequestsOneCert: Math.max(...perCert),
        challengesAnswered: results.reduce((a, r) => a + r.challengesAnswered, 0),
        mainThreadRequestsDuringCell: duringCell,
        medianMsToAgentThreadUp: median(agentUp),
        maxMsToAgentThreadUp: Math.max(...agentUp),
        medianMsToOrderPlaced: median(orderPlaced),
      },
    });
  } finally {
    ctx.responder.use(undefined);
    diagnosticsChannel.unsubscribe(HTTP_CLIENT_START, onRequest);
    channel.close();
    await sup?.shutdown();
    await rm(storeDir, { recursive: true, force: true });
  }
}
