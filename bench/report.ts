/**
 * The benchmark's output: one record per tool for the cell (medians over runs, raw runs kept), the
 * leec/acme-client ratios, a plain-text table for stdout and the JSON document for bench/results/.
 */
import os from 'node:os';
import type { BenchArgs } from './args.js';
import { median, type CellRun, type Tool } from './measure.js';

export interface BenchRecord {
  tool: Tool;
  toolVersion: string;
  domains: number;
  keyType: string;
  mode: string;
  /** leec's agent threads at once (maxConcurrentAgents); acme-client runs all N in one event loop. */
  agents: number;
  /** Medians over `runs`. */
  wallSeconds: number;
  cpuSeconds: number;
  certsPerSecond: number;
  requestsPerCert: number;
  p50Seconds: number;
  p95Seconds: number;
  peakRssMb: number;
  phasesMs: CellRun['phasesMs'];
  node: string;
  cpus: number;
  runs: CellRun[];
}

export interface BenchDocument {
  generatedAt: string;
  args: BenchArgs;
  node: string;
  cpus: number;
  cpuModel: string;
  platform: string;
  /** os.loadavg() (1, 5, 15 min) before Pebble started and after the last cell: other work on the host skews results. */
  loadAverage: { start: number[]; end: number[] };
  pebble: { env: Record<string, string>; vaSleepLine: string | undefined };
  notes: string[];
  records: BenchRecord[];
  /** leec median / acme-client median (below 1: leec is faster / cheaper). */
  ratios: { wall: number; cpu: number; requestsPerCert: number; p95: number; peakRss: number };
}

export function cpuCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

export function buildRecord(tool: Tool, toolVersion: string, args: BenchArgs, runs: CellRun[]): BenchRecord {
  const m = (f: (r: CellRun) => number): number => median(runs.map(f));
  return {
    tool,
    toolVersion,
    domains: args.domains,
    keyType: args.keyType,
    mode: args.mode,
    agents: args.agents,
    wallSeconds: m((r) => r.wallSeconds),
    cpuSeconds: m((r) => r.cpuSeconds),
    certsPerSecond: m((r) => r.certsPerSecond),
    requestsPerCert: m((r) => r.requestsPerCert),
    p50Seconds: m((r) => r.p50Seconds),
    p95Seconds: m((r) => r.p95Seconds),
    peakRssMb: m((r) => r.peakRssMb),
    phasesMs: {
      presented: m((r) => r.phasesMs.presented),
      served: m((r) => r.phasesMs.served),
      validated: m((r) => r.phasesMs.validated),
      done: m((r) => r.phasesMs.done),
    },
    node: process.version,
    cpus: cpuCount(),
    runs,
  };
}

export function ratios(leec: BenchRecord, other: BenchRecord): BenchDocument['ratios'] {
  return {
    wall: leec.wallSeconds / other.wallSeconds,
    cpu: leec.cpuSeconds / other.cpuSeconds,
    requestsPerCert: leec.requestsPerCert / other.requestsPerCert,
    p95: leec.p95Seconds / other.p95Seconds,
    peakRss: leec.peakRssMb / other.peakRssMb,
  };
}

function pad(cells: string[][]): string {
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

const f = (v: number, digits: number): string => (Number.isFinite(v) ? v.toFixed(digits) : '-');

/** The stdout table: medians per tool, the ratio row, then every run's raw figures in `executed` order. */
export function formatTable(doc: BenchDocument, executed: readonly CellRun[]): string {
  const { args } = doc;
  const head = `${args.domains} domains, ${args.keyType}, mode ${args.mode}, ${args.runs} run(s) per tool; node ${doc.node}, ${doc.cpus} CPU(s) (${doc.cpuModel}); load average ${doc.loadAverage.start.map((v) => v.toFixed(2)).join('/')} at start, ${doc.loadAverage.end.map((v) => v.toFixed(2)).join('/')} at end`;
  const header = ['tool', 'wall s', 'CPU s', 'certs/s', 'req/cert', 'p50 s', 'p95 s', 'peak RSS MB'];
  const row = (r: BenchRecord): string[] => [
    r.tool,
    f(r.wallSeconds, 3),
    f(r.cpuSeconds, 3),
    f(r.certsPerSecond, 2),
    f(r.requestsPerCert, 2),
    f(r.p50Seconds, 3),
    f(r.p95Seconds, 3),
    f(r.peakRssMb, 1),
  ];
  const leec = doc.records.find((r) => r.tool === 'leec')!;
  const other = doc.records.find((r) => r.tool === 'acme-client')!;
  const ratioRow = ['leec/acme-client', f(doc.ratios.wall, 2), f(doc.ratios.cpu, 2), f(leec.certsPerSecond / other.certsPerSecond, 2), f(doc.ratios.requestsPerCert, 2), f(leec.p50Seconds / other.p50Seconds, 2), f(doc.ratios.p95, 2), f(doc.ratios.peakRss, 2)];
  const medians = pad([header, row(leec), row(other), ratioRow]);

  const phaseHeader = ['median ms after start', 'token presented', 'token fetched by CA', 'client saw valid', 'cert in hand'];
  const phaseRow = (r: BenchRecord): string[] => [r.tool, f(r.phasesMs.presented, 0), f(r.phasesMs.served, 0), f(r.phasesMs.validated, 0), f(r.phasesMs.done, 0)];
  const phases = pad([phaseHeader, phaseRow(leec), phaseRow(other)]);

  const extras = doc.records
    .filter((r) => r.runs.some((run) => Object.keys(run.extra).length > 0))
    .map((r) => {
      const keys = [...new Set(r.runs.flatMap((run) => Object.keys(run.extra)))];
      return `${r.tool}: ${keys.map((k) => `${k} ${f(median(r.runs.map((run) => run.extra[k] ?? Number.NaN)), 1)}`).join(', ')}`;
    })
    .join('\n');

  const rawHeader = ['run', 'tool', 'wall s', 'CPU s', 'certs/s', 'req/cert', 'setup req', 'p50 s', 'p95 s', 'max s', 'peak RSS MB', 'RSS before MB'];
  const raw = pad([
    rawHeader,
    ...executed.map((r) => [
      String(r.run),
      r.tool,
      f(r.wallSeconds, 3),
      f(r.cpuSeconds, 3),
      f(r.certsPerSecond, 2),
      f(r.requestsPerCert, 2),
      String(r.setupRequests),
      f(r.p50Seconds, 3),
      f(r.p95Seconds, 3),
      f(r.maxSeconds, 3),
      f(r.peakRssMb, 1),
      f(r.baselineRssMb, 1),
    ]),
  ]);
  return `${head}\n\nmedians over runs\n${medians}\n\nper-certificate timeline (medians)\n${phases}\n\nextras (medians over runs)\n${extras}\n\nraw runs, in execution order\n${raw}\n`;
}
