/**
 * What one benchmark cell measures and how: wall clock, CPU of this process (every thread, worker
 * threads and libuv's pool included: process.cpuUsage is getrusage(RUSAGE_SELF)), peak RSS sampled
 * every 50 ms, and order statistics. No module-level state: each meter owns its sampler.
 */
import { performance } from 'node:perf_hooks';
import type { AgentTimeline } from './phases.js';

export type Tool = 'leec' | 'acme-client' | 'lego' | 'certbot' | 'keygen-floor';

export interface MeterReading {
  wallSeconds: number;
  cpuSeconds: number;
  /** CPU of the Pebble process over the same span (NaN when it cannot be read). */
  serverCpuSeconds: number;
  peakRssMb: number;
  /** RSS when the meter started (the process already holds Pebble's fixture, earlier cells' heap...). */
  baselineRssMb: number;
}

export interface Meter {
  /** performance.now() when the meter started. */
  readonly t0: number;
  /** Stops sampling and reads the meter (idempotent: later calls return the first reading). */
  stop(): MeterReading;
}

/** What a meter reads; the defaults measure this process. */
export interface MeterProbes {
  /** Cumulative client CPU seconds (default: process.cpuUsage, every thread of this process). */
  cpuSeconds?: () => number;
  /** Client RSS in bytes now (default: this process's RSS). */
  rssBytes?: () => number;
  /** Cumulative CPU seconds of the CA (Pebble); default: none (NaN). */
  serverCpuSeconds?: () => number;
  sampleMs?: number;
}

const MB = 1024 * 1024;

function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export function startMeter(probes: MeterProbes = {}): Meter {
  const rss = probes.rssBytes ?? (() => process.memoryUsage.rss());
  const cpu = probes.cpuSeconds ?? ownCpuSeconds;
  const server = probes.serverCpuSeconds ?? (() => Number.NaN);
  const baseline = rss();
  let peak = baseline;
  const sample = (): void => {
    const r = rss();
    if (r > peak) peak = r;
  };
  const timer = setInterval(sample, probes.sampleMs ?? 50);
  let reading: MeterReading | undefined;
  const server0 = server();
  const cpu0 = cpu();
  const t0 = performance.now();
  return {
    t0,
    stop() {
      if (reading) return reading;
      const wallMs = performance.now() - t0;
      const cpuSeconds = cpu() - cpu0;
      const serverCpuSeconds = server() - server0;
      clearInterval(timer);
      sample();
      reading = {
        wallSeconds: wallMs / 1000,
        cpuSeconds,
        serverCpuSeconds,
        peakRssMb: peak / MB,
        baselineRssMb: baseline / MB,
      };
      return reading;
    },
  };
}

/** Middle value; the mean of the two middle values for an even count. NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100): the smallest value with at least p% of values at or below it. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[rank - 1]!;
}

/** Per-certificate timeline, ms after the cell's first call (all calls start in the same tick). */
export interface CertTimeline {
  /** Token published to the responder. */
  presented?: number;
  /** Pebble's validator fetched the token (first 200 from the responder). */
  served?: number;
  /** The client saw the validation succeed (leec: LEEC state `valid`; acme-client: challengeRemoveFn called). */
  validated?: number;
  /** Certificate in hand (leec: stored on disk and in the SNI cache). */
  done: number;
}

/** One tool, one run of a cell: the raw figures the JSON keeps under `runs`. */
export interface CellRun {
  tool: Tool;
  run: number;
  domains: number;
  wallSeconds: number;
  cpuSeconds: number;
  certsPerSecond: number;
  /**
   * (per-certificate requests + one-time setup requests) / domains, counted by the client; for the
   * tools run as separate processes (lego, certbot), Pebble's count (serverRequestsPerCert).
   */
  requestsPerCert: number;
  /** Requests the orders themselves sent / domains: setup (directory, nonce, newAccount) left out. */
  orderRequestsPerCert: number;
  /** Requests the orders themselves sent, summed over the certificates (NaN: not counted by the client). */
  certRequests: number;
  /** One-time requests before the first call: directory, nonce, newAccount (per cell: fresh account). */
  setupRequests: number;
  p50Seconds: number;
  p95Seconds: number;
  maxSeconds: number;
  peakRssMb: number;
  baselineRssMb: number;
  /** Pebble's CPU over the timed span (utime + stime of its process). */
  serverCpuSeconds: number;
  /** Requests Pebble logged from the tool's set-up to its end (setup included), then / domains. */
  serverRequests: number;
  serverRequestsPerCert: number;
  /** The longest random VA sleep Pebble logged in this run (realistic mode; NaN in fast mode). */
  maxVaSleepSeconds: number;
  /** The slowest certificate's validation as the client saw it (leec: LEEC state pending to valid). */
  slowestValidationSeconds: number;
  /** Medians over the certificates of the timeline points, ms. */
  phasesMs: { presented: number; served: number; validated: number; done: number };
  /** Tool-specific extras (e.g. leec's per-cert request spread). */
  extra: Record<string, number>;
  /** leec only: every agent's phase timestamps, for the Gantt chart (kept for the chosen run only). */
  agentTimelines?: AgentTimeline[] | undefined;
}

/** Builds a CellRun from a meter reading, per-cert durations and request counts. */
export function cellRun(init: {
  tool: Tool;
  run: number;
  reading: MeterReading;
  perCertSeconds: number[];
  certRequests: number;
  setupRequests: number;
  timelines: CertTimeline[];
  extra?: Record<string, number>;
  slowestValidationSeconds?: number;
  agentTimelines?: AgentTimeline[];
}): CellRun {
  const n = init.perCertSeconds.length;
  const pick = (k: keyof CertTimeline): number =>
    median(init.timelines.map((t) => t[k]).filter((v): v is number => typeof v === 'number'));
  return {
    tool: init.tool,
    run: init.run,
    domains: n,
    wallSeconds: init.reading.wallSeconds,
    cpuSeconds: init.reading.cpuSeconds,
    certsPerSecond: n / init.reading.wallSeconds,
    requestsPerCert: (init.certRequests + init.setupRequests) / n,
    orderRequestsPerCert: init.certRequests / n,
    certRequests: init.certRequests,
    setupRequests: init.setupRequests,
    p50Seconds: percentile(init.perCertSeconds, 50),
    p95Seconds: percentile(init.perCertSeconds, 95),
    maxSeconds: percentile(init.perCertSeconds, 100),
    peakRssMb: init.reading.peakRssMb,
    baselineRssMb: init.reading.baselineRssMb,
    serverCpuSeconds: init.reading.serverCpuSeconds,
    serverRequests: Number.NaN,
    serverRequestsPerCert: Number.NaN,
    maxVaSleepSeconds: Number.NaN,
    slowestValidationSeconds: init.slowestValidationSeconds ?? Number.NaN,
    phasesMs: { presented: pick('presented'), served: pick('served'), validated: pick('validated'), done: pick('done') },
    extra: init.extra ?? {},
    agentTimelines: init.agentTimelines,
  };
}
