/**
 * Where one leec agent's time goes: its timestamps (ms after the cell's first call) and the phases the
 * Gantt chart draws from them. Sources: the Supervisor's `state` events, timestamped as they reach the
 * main thread (idle, pending, valid, finalize, done); the flow milestones and key timing posted from the
 * agent's thread by bench/agent-entry.ts (started, challengeAnswered, downloading, keygen); the
 * obtainCertificate promise (result). Pure functions, no I/O.
 */

export interface AgentTimeline {
  domain: string;
  /** The worker thread (CertificateResult.threadId). */
  threadId?: number | undefined;
  /** obtainCertificate was called (0: all calls start together). */
  called: number;
  /** The agent's task began on its thread (bench agent entry). */
  started?: number | undefined;
  /** LEEC states, as the main thread saw them. */
  idle?: number | undefined;
  pending?: number | undefined;
  /** The challenge was POSTed (flow milestone challengeAnswered). */
  answered?: number | undefined;
  valid?: number | undefined;
  finalize?: number | undefined;
  /** The order is valid and the download starts (flow milestone downloading). */
  downloading?: number | undefined;
  done?: number | undefined;
  /** obtainCertificate resolved: stored on disk and in the SNI cache. */
  result?: number | undefined;
  /** The certificate key: generation start and its duration (IssuedCertificate.timings.keygenMs). */
  keygenStart?: number | undefined;
  keygenMs?: number | undefined;
  /** Agent restarts seen (a restarted agent's points are its last incarnation's). */
  restarts: number;
}

export type PhaseName = 'queue' | 'setup' | 'order' | 'validation' | 'csr' | 'finalize' | 'download' | 'store' | 'keygen';

export interface Phase {
  name: PhaseName;
  start: number;
  end: number;
}

/** What each phase covers, for the legend. */
export const PHASE_INFO: Record<PhaseName, { label: string; covers: string; color: string }> = {
  queue: { label: 'queue', covers: 'call to the task starting on a thread (waiting for an agent slot, thread start-up)', color: '#c8c8c8' },
  setup: { label: 'setup', covers: 'task start to LEEC idle (account key, ACME client)', color: '#9e9e9e' },
  order: { label: 'order', covers: 'idle to pending: newOrder and its checkpoint', color: '#4e79a7' },
  validation: { label: 'validation', covers: 'pending to valid: authorization, token, challenge POST, CA validation, polls', color: '#59a14f' },
  csr: { label: 'key wait + CSR', covers: 'valid to finalize: waiting for the key, CSR, checkpoint', color: '#edc948' },
  finalize: { label: 'finalize', covers: 'finalize to downloading: finalize POST and order polls', color: '#f28e2b' },
  download: { label: 'download', covers: 'downloading to done: certificate download and parse', color: '#b07aa1' },
  store: { label: 'store', covers: 'done to result: store write, SNI cache, reply to the caller', color: '#76b7b2' },
  keygen: { label: 'keygen', covers: 'certificate key generation (overlaps validation; drawn as a thin bar)', color: '#e15759' },
};

/** The sequential phases in order, each between two points of the timeline. */
const SEQUENCE: Array<[PhaseName, keyof AgentTimeline, keyof AgentTimeline]> = [
  ['queue', 'called', 'started'],
  ['setup', 'started', 'idle'],
  ['order', 'idle', 'pending'],
  ['validation', 'pending', 'valid'],
  ['csr', 'valid', 'finalize'],
  ['finalize', 'finalize', 'downloading'],
  ['download', 'downloading', 'done'],
  ['store', 'done', 'result'],
];

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * The phases of one agent, in time order, then `keygen` (it overlaps the others). A phase whose start
 * point is missing begins at the previous phase's end; one whose end point is missing is left out (the
 * next one then starts where the last known one ended). Points from different threads can arrive out
 * of order by a few ms: every start is clamped to the previous end, so bars never overlap or go back.
 */
export function agentPhases(tl: AgentTimeline): Phase[] {
  const out: Phase[] = [];
  let cursor = num(tl.called) ?? 0;
  for (const [name, , to] of SEQUENCE) {
    const end = num(tl[to]);
    if (end === undefined) continue;
    const start = cursor;
    const e = Math.max(start, end);
    out.push({ name, start, end: e });
    cursor = e;
  }
  const ks = num(tl.keygenStart);
  const km = num(tl.keygenMs);
  if (ks !== undefined && km !== undefined && km > 0) out.push({ name: 'keygen', start: ks, end: ks + km });
  return out;
}

/** The span of a phase across agents: total ms spent in it, summed, and its longest single bar. */
export function phaseTotals(timelines: readonly AgentTimeline[]): Record<PhaseName, { sumMs: number; maxMs: number }> {
  const totals = Object.fromEntries(Object.keys(PHASE_INFO).map((k) => [k, { sumMs: 0, maxMs: 0 }])) as Record<PhaseName, { sumMs: number; maxMs: number }>;
  for (const tl of timelines) {
    for (const p of agentPhases(tl)) {
      const d = p.end - p.start;
      totals[p.name].sumMs += d;
      if (d > totals[p.name].maxMs) totals[p.name].maxMs = d;
    }
  }
  return totals;
}

/** The slowest validation among the agents, ms (LEEC pending to valid); NaN when none has both points. */
export function slowestValidationMs(timelines: readonly AgentTimeline[]): number {
  let max = Number.NaN;
  for (const tl of timelines) {
    const p = num(tl.pending);
    const v = num(tl.valid);
    if (p === undefined || v === undefined) continue;
    if (!(v - p <= max)) max = v - p;
  }
  return max;
}
