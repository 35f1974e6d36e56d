/**
 * The benchmark's records: one per tool and cell (medians over runs, raw runs kept), a skipped record
 * for a tool that could not run, the per-cell ratios and the plain-text tables for stdout.
 */
import os from 'node:os';
import type { BenchArgs, BenchMode } from './args.js';
import type { Cell } from './matrix.js';
import { median, type CellRun, type Tool } from './measure.js';
import type { TargetResult } from './targets.js';

export interface BenchRecord {
  tool: Tool;
  toolVersion: string;
  domains: number;
  keyType: string;
  mode: BenchMode;
  /**
   * Concurrency: leec's agent threads at once (maxConcurrentAgents); acme-client and the keygen floor
   * run all N at once in one event loop; lego/certbot: processes at once.
   */
  agents: number;
  /** Medians over `runs`. */
  wallSeconds: number;
  cpuSeconds: number;
  serverCpuSeconds: number;
  certsPerSecond: number;
  requestsPerCert: number;
  orderRequestsPerCert: number;
  serverRequestsPerCert: number;
  p50Seconds: number;
  p95Seconds: number;
  peakRssMb: number;
  slowestValidationSeconds: number;
  maxVaSleepSeconds: number;
  phasesMs: CellRun['phasesMs'];
  node: string;
  cpus: number;
  /** leec: the run whose agent timelines are kept (the median-wall run); the Gantt chart draws it. */
  ganttRun?: number | undefined;
  runs: CellRun[];
}

/** A tool that did not run in a cell, and why (not installed, or it failed). */
export interface SkippedRecord {
  tool: Tool;
  toolVersion?: string | undefined;
  domains: number;
  keyType: string;
  mode: BenchMode;
  skipped: true;
  reason: string;
}

export type AnyRecord = BenchRecord | SkippedRecord;

export const isMeasured = (r: AnyRecord): r is BenchRecord => !('skipped' in r);

/** leec / another tool, medians (below 1: leec is faster or cheaper). */
export interface PairRatios {
  wall: number;
  cpu: number;
  requestsPerCert: number;
  p95: number;
  peakRss: number;
}

export interface CellRatios {
  mode: BenchMode;
  keyType: string;
  domains: number;
  /** leec / peer for each peer measured in the cell. */
  vsPeers: Partial<Record<Tool, PairRatios>>;
  /** leec wall / keygen floor wall. */
  wallOverKeygenFloor: number;
  /** Median over leec's runs of (wall / its slowest validation, pending to valid). */
  wallOverSlowestValidation: number;
}

export interface BenchDocument {
  generatedAt: string;
  args: BenchArgs;
  node: string;
  cpus: number;
  cpuModel: string;
  platform: string;
  /** libuv's thread pool (keygen floor, leec's and acme-client's key generation, jose signatures). */
  uvThreadpoolSize: number;
  loadAverage: { start: number[]; end: number[] };
  /** Per mode: Pebble's PEBBLE_* environment and the VA start-up line confirming it. */
  pebble: Partial<Record<BenchMode, { env: Record<string, string>; vaSleepLine: string }>>;
  /** Heavy cells the default matrix left out. */
  leftOut: Cell[];
  notes: string[];
  records: AnyRecord[];
  ratios: CellRatios[];
  targets: TargetResult[];
  /** Wall seconds of the whole bench. */
  totalSeconds: number;
}

export function cpuCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** The run whose wall time is the median (the lower middle for an even count). */
export function medianRun(runs: readonly CellRun[]): CellRun | undefined {
  const s = [...runs].sort((a, b) => a.wallSeconds - b.wallSeconds);
  return s[Math.floor((s.length - 1) / 2)];
}

export function buildRecord(tool: Tool, toolVersion: string, cell: Cell, agents: number, runs: CellRun[]): BenchRecord {
  const m = (f: (r: CellRun) => number): number => median(runs.map(f).filter((v) => !Number.isNaN(v)));
  const chosen = runs.some((r) => r.agentTimelines) ? medianRun(runs) : undefined;
  return {
    tool,
    toolVersion,
    domains: cell.domains,
    keyType: cell.keyType,
    mode: cell.mode,
    agents,
    wallSeconds: m((r) => r.wallSeconds),
    cpuSeconds: m((r) => r.cpuSeconds),
    serverCpuSeconds: m((r) => r.serverCpuSeconds),
    certsPerSecond: m((r) => r.certsPerSecond),
    requestsPerCert: m((r) => r.requestsPerCert),
    orderRequestsPerCert: m((r) => r.orderRequestsPerCert),
    serverRequestsPerCert: m((r) => r.serverRequestsPerCert),
    p50Seconds: m((r) => r.p50Seconds),
    p95Seconds: m((r) => r.p95Seconds),
    peakRssMb: m((r) => r.peakRssMb),
    slowestValidationSeconds: m((r) => r.slowestValidationSeconds),
    maxVaSleepSeconds: m((r) => r.maxVaSleepSeconds),
    phasesMs: {
      presented: m((r) => r.phasesMs.presented),
      served: m((r) => r.phasesMs.served),
      validated: m((r) => r.phasesMs.validated),
      done: m((r) => r.phasesMs.done),
    },
    node: process.version,
    cpus: cpuCount(),
    ganttRun: chosen?.run,
    // Agent timelines are kept for the chosen run only: enough for the chart, and the JSON stays small.
    runs: runs.map((r) => (r === chosen || r.agentTimelines === undefined ? r : { ...r, agentTimelines: undefined })),
  };
}

export function pairRatios(leec: BenchRecord, other: BenchRecord): PairRatios {
  return {
    wall: leec.wallSeconds / other.wallSeconds,
    cpu: leec.cpuSeconds / other.cpuSeconds,
    requestsPerCert: leec.requestsPerCert / other.requestsPerCert,
    p95: leec.p95Seconds / other.p95Seconds,
    peakRss: leec.peakRssMb / other.peakRssMb,
  };
}

const sameCell = (a: { mode: string; keyType: string; domains: number }, b: { mode: string; keyType: string; domains: number }): boolean =>
  a.mode === b.mode && a.keyType === b.keyType && a.domains === b.domains;

/** The ratios of every cell where leec was measured. */
export function cellRatios(records: readonly AnyRecord[]): CellRatios[] {
  const measured = records.filter(isMeasured);
  return measured
    .filter((r) => r.tool === 'leec')
    .map((leec) => {
      const inCell = measured.filter((r) => sameCell(r, leec) && r.tool !== 'leec');
      const vsPeers: CellRatios['vsPeers'] = {};
      for (const r of inCell) if (r.tool !== 'keygen-floor') vsPeers[r.tool] = pairRatios(leec, r);
      const floor = inCell.find((r) => r.tool === 'keygen-floor');
      return {
        mode: leec.mode,
        keyType: leec.keyType,
        domains: leec.domains,
        vsPeers,
        wallOverKeygenFloor: floor ? leec.wallSeconds / floor.wallSeconds : Number.NaN,
        wallOverSlowestValidation: median(leec.runs.map((r) => r.wallSeconds / r.slowestValidationSeconds).filter((v) => Number.isFinite(v))),
      };
    });
}

export function pad(cells: string[][]): string {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

export const fmt = (v: number | undefined, digits: number): string => (v !== undefined && Number.isFinite(v) ? v.toFixed(digits) : '-');

/** Column heads and one record's cells, shared by the stdout table and the HTML one. */
export const FIGURE_HEADER = ['mode', 'key', 'N', 'tool', 'wall s', 'CPU s', 'Pebble CPU s', 'certs/s', 'req/cert', 'p50 s', 'p95 s', 'peak RSS MB', 'slowest valid. s'];

export function figureRow(r: BenchRecord): string[] {
  return [
    r.mode,
    r.keyType,
    String(r.domains),
    r.tool,
    fmt(r.wallSeconds, 3),
    fmt(r.cpuSeconds, 3),
    fmt(r.serverCpuSeconds, 2),
    fmt(r.certsPerSecond, 2),
    r.tool === 'keygen-floor' ? '-' : fmt(r.requestsPerCert, 2),
    fmt(r.p50Seconds, 3),
    fmt(r.p95Seconds, 3),
    fmt(r.peakRssMb, 1),
    fmt(r.slowestValidationSeconds, 2),
  ];
}

export const RATIO_HEADER = ['mode', 'key', 'N', 'leec/acme-client wall', 'CPU', 'leec/lego wall', 'leec/certbot wall', 'leec/keygen floor wall', 'leec wall/slowest validation'];

export function ratioRow(c: CellRatios): string[] {
  return [
    c.mode,
    c.keyType,
    String(c.domains),
    fmt(c.vsPeers['acme-client']?.wall, 2),
    fmt(c.vsPeers['acme-client']?.cpu, 2),
    fmt(c.vsPeers.lego?.wall, 2),
    fmt(c.vsPeers.certbot?.wall, 2),
    fmt(c.wallOverKeygenFloor, 2),
    fmt(c.wallOverSlowestValidation, 2),
  ];
}

/** Skipped tools, one line per tool and reason, with the cells it applies to. */
export function skippedLines(records: readonly AnyRecord[]): string[] {
  const groups = new Map<string, { tool: string; reason: string; cells: string[] }>();
  for (const r of records) {
    if (isMeasured(r)) continue;
    const key = `${r.tool}\0${r.reason}`;
    const g = groups.get(key) ?? { tool: r.tool, reason: r.reason, cells: [] };
    g.cells.push(`${r.domains} x ${r.keyType} ${r.mode}`);
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => `${g.tool} skipped in ${g.cells.length} cell(s) (${g.cells.join(', ')}): ${g.reason}`);
}

/** The stdout report: figures per record, ratios per cell, then the targets. */
export function formatReport(doc: BenchDocument): string {
  const head = `${doc.args.runs} run(s) per tool and cell, medians; node ${doc.node}, ${doc.cpus} CPU(s) (${doc.cpuModel}), UV_THREADPOOL_SIZE ${doc.uvThreadpoolSize}; load average ${doc.loadAverage.start.map((v) => v.toFixed(2)).join('/')} at start, ${doc.loadAverage.end.map((v) => v.toFixed(2)).join('/')} at end; ${doc.totalSeconds.toFixed(0)} s in all`;
  const figures = pad([FIGURE_HEADER, ...doc.records.filter(isMeasured).map(figureRow)]);
  const skipped = skippedLines(doc.records);
  const ratios = pad([RATIO_HEADER, ...doc.ratios.map(ratioRow)]);
  const targets = pad([['target', 'value', 'limit', 'status', 'detail'], ...doc.targets.map((t) => [t.description, fmt(t.value, 2), fmt(t.limit, 2), t.status, t.detail])]);
  const leftOut = doc.leftOut.length > 0 ? `\nleft out of the default matrix (heavy; name --domains and --key-type, or --all): ${doc.leftOut.map((c) => `${c.domains} x ${c.keyType} ${c.mode}`).join(', ')}\n` : '';
  return `${head}\n\nfigures\n${figures}\n${skipped.length > 0 ? `${skipped.join('\n')}\n` : ''}\nratios (medians)\n${ratios}\n${leftOut}\ntargets\n${targets}\n`;
}
