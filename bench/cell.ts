/**
 * One cell of the matrix: every tool (leec, the keygen floor, the peers asked for) `--runs` times, the
 * tools' order rotating between runs, each run inside its own window of Pebble's log (requests, VA
 * sleeps). Pushes one record per tool, or a skipped record with the reason.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAcmeClientCell } from './acme-client-runner.js';
import type { BenchArgs } from './args.js';
import { runCliPeerCell } from './cli-peer-runner.js';
import { CLI_PEERS, type CliPeerName } from './cli-peers.js';
import { runKeygenFloorCell } from './keygen-floor.js';
import { runLeecCell, type CellContext } from './leec-runner.js';
import { availableParallelism } from 'node:os';
import { CLI_PEER_DEFAULT_MAX_DOMAINS, cellLabel, cliPeerLeftOut, runDeadlineSeconds, type Cell } from './matrix.js';
import type { CellRun, Tool } from './measure.js';
import type { pebbleLogTap } from './pebble-probe.js';
import { buildRecord, type AnyRecord } from './report.js';

/** The repository root, from dist/bench/. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Pebble's log lines reach us through a pipe: wait this long after a tool before closing its window. */
const LOG_SETTLE_MS = 150;

export function packageVersion(file: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(ROOT, file), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

interface ToolPlan {
  tool: Tool;
  version: string;
  /** The record's `agents` (concurrency). */
  agents: number;
  run(ctx: CellContext): Promise<CellRun>;
}

const rotate = <T>(xs: readonly T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]!);

/** `p`, or a rejection once `seconds` have passed (see runDeadlineSeconds). */
async function withDeadline<T>(p: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${seconds} s: is Pebble still answering? (Pebble 2.4 has been seen to stop answering under this load; run the bench again)`)), seconds * 1000);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

export interface CellEnv {
  args: BenchArgs;
  cli: Map<CliPeerName, { binary: string; version: string } | { skipped: string }>;
  records: AnyRecord[];
  tmpRoot: string;
  responder: CellContext['responder'];
  directoryUrl: string;
  caPem: string;
  serverCpuSeconds: () => number;
  tap: ReturnType<typeof pebbleLogTap>;
  ticks: number;
  total: number;
}

export async function runCell(cell: Cell, index: number, e: CellEnv): Promise<void> {
  const { args } = e;
  const plans: ToolPlan[] = [
    { tool: 'leec', version: packageVersion('package.json'), agents: args.agents, run: runLeecCell },
    { tool: 'keygen-floor', version: `node ${process.version} (OpenSSL ${process.versions.openssl})`, agents: cell.domains, run: runKeygenFloorCell },
  ];
  const skip = (tool: Tool, reason: string, toolVersion?: string): void => {
    e.records.push({ tool, toolVersion, domains: cell.domains, keyType: cell.keyType, mode: cell.mode, skipped: true, reason });
  };
  for (const p of args.peers) {
    if (p === 'acme-client') {
      plans.push({ tool: p, version: packageVersion('node_modules/acme-client/package.json'), agents: cell.domains, run: runAcmeClientCell });
      continue;
    }
    const d = e.cli.get(p);
    if (!d || 'skipped' in d) {
      skip(p, d && 'skipped' in d ? d.skipped : 'not detected');
      continue;
    }
    if (cliPeerLeftOut(cell, args.keepHeavy)) {
      skip(p, `left out of the default matrix: more than ${CLI_PEER_DEFAULT_MAX_DOMAINS} processes (one per certificate) per run; name --domains and --key-type, or --all, to run it`, d.version);
      continue;
    }
    const jobs = Math.min(args.peerJobs, cell.domains);
    plans.push({ tool: p, version: d.version, agents: jobs, run: (ctx) => runCliPeerCell(CLI_PEERS[p], d.binary, jobs, ctx, e.ticks) });
  }

  const runs = new Map<Tool, CellRun[]>(plans.map((p) => [p.tool, []]));
  const failed = new Set<Tool>();
  for (let run = 1; run <= args.runs; run++) {
    for (const plan of rotate(plans, run - 1)) {
      if (failed.has(plan.tool)) continue;
      const ctx: CellContext = {
        directoryUrl: e.directoryUrl,
        caPem: e.caPem,
        responder: e.responder,
        domains: cell.domains,
        keyType: cell.keyType,
        agents: args.agents,
        agentsPerThread: args.agentsPerThread,
        run,
        tag: `c${index}r${run}`,
        tmpRoot: e.tmpRoot,
        serverCpuSeconds: e.serverCpuSeconds,
      };
      process.stderr.write(`bench: [${index}/${e.total}] ${cellLabel(cell)}, run ${run}/${args.runs}, ${plan.tool} ... `);
      const window = e.tap.open();
      let r: CellRun;
      try {
        r = await withDeadline(plan.run(ctx), runDeadlineSeconds(cell, availableParallelism()), `${plan.tool} on ${cellLabel(cell)}`);
      } catch (err) {
        // A peer run as separate processes may fail on its own set-up: record why and go on without it.
        if (plan.tool !== 'lego' && plan.tool !== 'certbot') throw err;
        const reason = `failed: ${err instanceof Error ? err.message : String(err)}`;
        process.stderr.write(`${reason}\n`);
        failed.add(plan.tool);
        e.cli.set(plan.tool, { skipped: `${plan.tool} failed in an earlier cell: ${reason.split('\n')[0]}` });
        skip(plan.tool, reason, plan.version);
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, LOG_SETTLE_MS));
      r.serverRequests = window.requests();
      r.serverRequestsPerCert = r.serverRequests / cell.domains;
      r.maxVaSleepSeconds = window.maxSleepMs() / 1000;
      if (Number.isNaN(r.requestsPerCert) && plan.tool !== 'keygen-floor') r.requestsPerCert = r.serverRequestsPerCert;
      runs.get(plan.tool)!.push(r);
      process.stderr.write(`${r.wallSeconds.toFixed(3)} s wall, ${r.cpuSeconds.toFixed(3)} s CPU\n`);
    }
  }
  for (const plan of plans) {
    if (failed.has(plan.tool)) continue;
    e.records.push(buildRecord(plan.tool, plan.version, cell, plan.agents, runs.get(plan.tool)!));
  }
}

