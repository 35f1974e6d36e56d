/**
 * What one benchmark cell measures and how: wall clock, CPU of this process (every thread, worker
 * threads and libuv's pool included: process.cpuUsage is getrusage(RUSAGE_SELF)), peak RSS sampled
 * every 50 ms, and order statistics. No module-level state: each meter owns its sampler.
 */
import { performance } from 'node:perf_hooks';

export type Tool = 'leec' | 'acme-client';

export interface MeterReading {
  wallSeconds: number;
  cpuSeconds: number;
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

const MB = 1024 * 1024;

export function startMeter(sampleMs = 50): Meter {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const sample = (): void => {
    const r = process.memoryUsage.rss();
    if (r > peak) peak = r;
  };
  const timer = setInterval(sample, sampleMs);
  let reading: MeterReading | undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  return {
    t0,
    stop() {
      if (reading) return reading;
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      clearInterval(timer);
      sample();
      reading = {
        wallSeconds: wallMs / 1000,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
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
  /** (per-certificate requests + one-time setup requests) / domains. */
  requestsPerCert: number;
  /** Requests the orders themselves sent, summed over the certificates. */
  certRequests: number;
  /** One-time requests before the first call: directory, nonce, newAccount (per cell: fresh account). */
  setupRequests: number;
  p50Seconds: number;
  p95Seconds: number;
  maxSeconds: number;
  peakRssMb: number;
  baselineRssMb: number;
  /** Medians over the certificates of the timeline points, ms. */
  phasesMs: { presented: number; served: number; validated: number; done: number };
  /** Tool-specific extras (e.g. leec's per-cert request spread). */
  extra: Record<string, number>;
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
    certRequests: init.certRequests,
    setupRequests: init.setupRequests,
    p50Seconds: percentile(init.perCertSeconds, 50),
    p95Seconds: percentile(init.perCertSeconds, 95),
    maxSeconds: percentile(init.perCertSeconds, 100),
    peakRssMb: init.reading.peakRssMb,
    baselineRssMb: init.reading.baselineRssMb,
    phasesMs: { presented: pick('presented'), served: pick('served'), validated: pick('validated'), done: pick('done') },
    extra: init.extra ?? {},
  };
}
