/**
 * `npm run bench [-- flags]`: the matrix (mode x key type x domains, bench/matrix.ts) of leec against
 * acme-client (in this process), lego and certbot (one process per certificate, when installed) and the
 * keygen floor, on ONE Pebble per mode and ONE shared http-01 responder. In each cell every tool runs
 * `--runs` times, the tools' order rotating between runs. Medians, ratios and the targets go to stdout,
 * the JSON document to bench/results/, the HTML report (Gantt charts) next to it. Everything it starts is
 * stopped at the end, on error and on SIGINT/SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/net/free-port.js';
import { startPebble } from '../src/pebble/pebble-server.js';
import { BenchUsageError, parseBenchArgs, USAGE, type BenchArgs, type BenchMode } from './args.js';
import { CLI_PEERS, type CliPeerName } from './cli-peers.js';
import { detectCliPeer } from './cli-peer-runner.js';
import { ROOT, runCell } from './cell.js';
import { renderHtml } from './html.js';
import { cellLabel, estimateSeconds, expandMatrix } from './matrix.js';
import { pebbleCpuReader, pebbleLogTap } from './pebble-probe.js';
import { clockTicks } from './proc-stat.js';
import { cellRatios, cpuCount, formatReport, type AnyRecord, type BenchDocument } from './report.js';
import { startSharedResponder } from './responder.js';
import { evaluateTargets } from './targets.js';
import { threadpoolSize, wantedThreadpoolSize } from './threadpool.js';

const VA_LINE = /Disabling random VA sleeps|Setting maximum random VA sleep time/;


/** Pebble's environment: authorization reuse off for every tool; the VA's random sleep per mode. */
function pebbleEnv(mode: BenchMode): Record<string, string> {
  const env: Record<string, string> = { PEBBLE_AUTHZREUSE: '0' };
  // The fixture sets PEBBLE_VA_NOSLEEP=1 and cannot unset it; Pebble only treats 1/true as "no sleep".
  if (mode === 'realistic') Object.assign(env, { PEBBLE_VA_NOSLEEP: '0', PEBBLE_VA_SLEEPTIME: '5' });
  return env;
}

/** Waits (up to 2 s) for Pebble's VA start-up line and checks it matches the mode. */
async function checkVaSleep(mode: BenchMode, lines: string[]): Promise<string> {
  for (let i = 0; i < 40 && !lines.some((l) => VA_LINE.test(l)); i++) await new Promise((r) => setTimeout(r, 50));
  const line = lines.find((l) => VA_LINE.test(l));
  if (line === undefined) throw new Error('Pebble did not log its VA sleep setting; cannot confirm the mode');
  const sleeps = /Setting maximum random VA sleep time to 5 seconds/.test(line);
  if ((mode === 'realistic') !== sleeps) throw new Error(`Pebble's VA sleep setting does not match mode ${mode}: ${line}`);
  return line.replace(/^pebble: (Pebble \S+ \S+ )?/, '');
}

const NOTES = [
  'wall: from just before the first call to the last certificate; one-time setup (leec Supervisor.start with its account, acme-client createAccount) is outside it; lego and certbot register one account per process inside it, as a fresh install does',
  'cpuSeconds: leec, acme-client and the keygen floor: process.cpuUsage() delta over the same span, every thread of this process included; lego/certbot: their processes (cutime + cstime of this process once each is reaped)',
  'serverCpuSeconds: utime + stime of the Pebble process (/proc/<pid>/stat) over the same span',
  'requestsPerCert: (order requests + one-time setup: directory, nonce, newAccount) / domains; leec: setup on the main-thread http.client diagnostics channel, orders from CertificateResult.requests; acme-client: an axios request interceptor; lego/certbot: Pebble\'s log ("-> calling handler()" lines, setup included), also given for every tool as serverRequestsPerCert; Pebble rejects 5% of nonces, so badNonce retries are in every count',
  'p50/p95: nearest rank over per-certificate times from the call (leec: CertificateResult.elapsedMs; acme-client: key + CSR + auto(); lego/certbot: process start to exit; keygen floor: one key)',
  'peakRssMb: RSS sampled every 50 ms: this whole process for leec, acme-client and the floor (it also holds earlier cells\' heap); the sum over live processes for lego/certbot',
  'keygen floor: N generateKeyPair calls of node:crypto started at once (libuv thread pool, all cores); no client making N fresh keys in this process can beat it',
  'slowestValidationSeconds: leec: the longest LEEC pending-to-valid of the run; acme-client: challengeCreateFn to challengeRemoveFn; maxVaSleepSeconds: the longest random sleep Pebble logged (realistic mode)',
  'acme-client: one Client + account per cell, all N auto() at once, httpsAgent keepAlive with the Pebble CA, backoffMin 100 ms / backoffMax 5 s, skipChallengeVerification',
  'leec: a fresh Supervisor per cell (fresh store, shared account), http01 embedded behind the shared responder, agentEntry = bench/agent-entry.js (leec\'s agent, observed for the Gantt chart)',
  'lego/certbot: one process per certificate, at most --peer-jobs at once, http-01 by webroot served by the shared responder (one port for Pebble\'s validator), CA trusted by LEGO_CA_CERTIFICATES / REQUESTS_CA_BUNDLE',
];


async function bench(args: BenchArgs, closers: Array<() => Promise<void>>): Promise<void> {
  const began = performance.now();
  const loadAtStart = os.loadavg();
  const { cells, leftOut } = expandMatrix(args);
  const tmpRoot = await mkdtemp(path.join(os.tmpdir(), 'leec-bench-'));
  closers.push(() => rm(tmpRoot, { recursive: true, force: true }));
  const port = await freePort();
  const responder = await startSharedResponder(port);
  closers.push(() => responder.close());
  const ticks = clockTicks();

  const cli = new Map<CliPeerName, { binary: string; version: string } | { skipped: string }>();
  for (const p of args.peers) if (p === 'lego' || p === 'certbot') cli.set(p, await detectCliPeer(CLI_PEERS[p]));
  for (const [name, d] of cli) process.stderr.write(`bench: ${name}: ${'skipped' in d ? d.skipped : `${d.binary} ${d.version}`}\n`);
  const toolsPerCell = 2 + args.peers.filter((p) => p === 'acme-client' || !(cli.get(p) && 'skipped' in cli.get(p)!)).length;
  const estimate = estimateSeconds(cells, args.runs, toolsPerCell, cpuCount());
  process.stderr.write(`bench: ${cells.length} cell(s) x ${toolsPerCell} tools x ${args.runs} run(s), roughly ${Math.ceil(estimate / 60)} min on ${cpuCount()} CPU(s) (a guess from key costs)${leftOut.length > 0 ? `; left out (heavy): ${leftOut.map(cellLabel).join(', ')}` : ''}\n`);

  const records: AnyRecord[] = [];
  const pebbleInfo: BenchDocument['pebble'] = {};
  let cellIndex = 0;
  for (const mode of args.modes) {
    const modeCells = cells.filter((c) => c.mode === mode);
    if (modeCells.length === 0) continue;
    const env = pebbleEnv(mode);
    const tap = pebbleLogTap();
    const vaLines: string[] = [];
    const pebble = await startPebble({
      httpPort: port,
      env,
      log: (l) => {
        tap.onLine(l);
        if (VA_LINE.test(l)) vaLines.push(l);
      },
    });
    closers.push(() => pebble.stop());
    const vaSleepLine = await checkVaSleep(mode, vaLines);
    pebbleInfo[mode] = { env, vaSleepLine };
    const serverCpuSeconds = pebbleCpuReader(pebble.pids, ticks);
    process.stderr.write(`bench: ${mode}: Pebble at ${pebble.directoryUrl}, http-01 responder on 127.0.0.1:${port}; ${vaSleepLine}${Number.isNaN(serverCpuSeconds()) ? '; Pebble CPU not readable' : ''}\n`);

    for (const cell of modeCells) {
      cellIndex += 1;
      await runCell(cell, cellIndex, { args, cli, records, tmpRoot, responder, directoryUrl: pebble.directoryUrl, caPem: pebble.caPem, serverCpuSeconds, tap, ticks, total: cells.length });
    }
    await pebble.stop();
  }

  const ratios = cellRatios(records);
  const cpu = os.cpus()[0];
  const doc: BenchDocument = {
    generatedAt: new Date().toISOString(),
    args,
    node: process.version,
    cpus: cpuCount(),
    cpuModel: cpu?.model.trim() ?? 'unknown',
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    uvThreadpoolSize: threadpoolSize(),
    loadAverage: { start: loadAtStart, end: os.loadavg() },
    pebble: pebbleInfo,
    leftOut,
    notes: NOTES,
    records,
    ratios,
    targets: evaluateTargets(records, ratios),
    totalSeconds: (performance.now() - began) / 1000,
  };
  process.stdout.write(`\n${formatReport(doc)}`);
  const jsonFile = path.resolve(args.json ?? path.join(ROOT, 'bench', 'results', `${doc.generatedAt.replace(/[:.]/g, '-')}.json`));
  const htmlFile = path.resolve(args.html ?? jsonFile.replace(/\.json$/i, '') + '.html');
  await mkdir(path.dirname(jsonFile), { recursive: true });
  await writeFile(jsonFile, `${JSON.stringify(doc, null, 2)}\n`);
  await mkdir(path.dirname(htmlFile), { recursive: true });
  await writeFile(htmlFile, renderHtml(doc));
  const rel = (f: string): string => path.relative(process.cwd(), f) || f;
  process.stdout.write(`\nJSON: ${rel(jsonFile)}\nHTML: ${rel(htmlFile)}\n`);
}

/** Starts this script again with UV_THREADPOOL_SIZE set (see threadpool.ts); resolves with its exit code. */
function rerunWithThreadpool(size: number, argv: string[]): Promise<number> {
  process.stderr.write(`bench: restarting with UV_THREADPOOL_SIZE=${size} (one libuv thread per CPU)\n`);
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...argv], {
    stdio: 'inherit',
    env: { ...process.env, UV_THREADPOOL_SIZE: String(size) },
  });
  // The terminal's SIGINT reaches the child too (same process group); a SIGTERM to us is passed on.
  const onInt = (): void => {};
  const onTerm = (): void => void child.kill('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(code ?? (signal ? 130 : 1));
    });
  });
}

async function main(argv: string[]): Promise<number> {
  let args: BenchArgs;
  try {
    const parsed = parseBenchArgs(argv);
    if ('help' in parsed) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    args = parsed;
  } catch (e) {
    if (!(e instanceof BenchUsageError)) throw e;
    process.stderr.write(`bench: ${e.message}\n${USAGE}\n`);
    return 2;
  }
  const wanted = wantedThreadpoolSize(cpuCount());
  if (wanted !== undefined) return rerunWithThreadpool(wanted, argv);

  const closers: Array<() => Promise<void>> = [];
  const cleanup = async (): Promise<void> => {
    for (let c = closers.pop(); c !== undefined; c = closers.pop()) {
      await c().catch((err: unknown) => process.stderr.write(`bench: cleanup failed: ${err instanceof Error ? err.message : String(err)}\n`));
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\nbench: ${signal}, stopping Pebble and the responder\n`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await bench(args, closers);
    return 0;
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`\nbench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    // Pebble and the responder are stopped (main's cleanup); a run given up on may still hold sockets
    // and timers of the tool that hung, which would keep the process alive.
    process.exit(1);
  },
);
