/**
 * `npm run bench -- --domains N --key-type T [--runs R] [--json FILE] [--mode fast|realistic]`: leec
 * against acme-client on ONE Pebble and ONE shared http-01 responder, tools alternating per run
 * (leec, acme-client | acme-client, leec | ...), medians and leec/acme-client ratios on stdout, JSON
 * records in bench/results/. Everything it starts is stopped at the end, on error and on SIGINT/SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../src/net/free-port.js';
import { startPebble } from '../src/pebble/pebble-server.js';
import { runAcmeClientCell } from './acme-client-runner.js';
import { BenchUsageError, parseBenchArgs, USAGE, type BenchArgs } from './args.js';
import { runLeecCell, type CellContext } from './leec-runner.js';
import type { CellRun, Tool } from './measure.js';
import { buildRecord, cpuCount, formatTable, ratios, type BenchDocument } from './report.js';
import { startSharedResponder } from './responder.js';

/** The repository root, from dist/bench/run.js. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const VA_LINE = /Disabling random VA sleeps|Setting maximum random VA sleep time/;

function packageVersion(file: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(ROOT, file), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Pebble's environment: authorization reuse off for both tools; the VA's random sleep per mode. */
function pebbleEnv(args: BenchArgs): Record<string, string> {
  const env: Record<string, string> = { PEBBLE_AUTHZREUSE: '0' };
  // The fixture sets PEBBLE_VA_NOSLEEP=1 and cannot unset it; Pebble only treats 1/true as "no sleep".
  if (args.mode === 'realistic') Object.assign(env, { PEBBLE_VA_NOSLEEP: '0', PEBBLE_VA_SLEEPTIME: '5' });
  return env;
}

/** Waits (up to 2 s) for Pebble's VA start-up line and checks it matches the mode. */
async function checkVaSleep(args: BenchArgs, lines: string[]): Promise<string> {
  for (let i = 0; i < 40 && !lines.some((l) => VA_LINE.test(l)); i++) await new Promise((r) => setTimeout(r, 50));
  const line = lines.find((l) => VA_LINE.test(l));
  if (line === undefined) throw new Error('Pebble did not log its VA sleep setting; cannot confirm the mode');
  const sleeps = /Setting maximum random VA sleep time to 5 seconds/.test(line);
  if ((args.mode === 'realistic') !== sleeps) throw new Error(`Pebble's VA sleep setting does not match mode ${args.mode}: ${line}`);
  return line.replace(/^pebble: /, '');
}

async function bench(args: BenchArgs, closers: Array<() => Promise<void>>): Promise<void> {
  const loadAtStart = os.loadavg();
  const tmpRoot = await mkdtemp(path.join(os.tmpdir(), 'leec-bench-'));
  closers.push(() => rm(tmpRoot, { recursive: true, force: true }));
  const port = await freePort();
  const responder = await startSharedResponder(port);
  closers.push(() => responder.close());
  const env = pebbleEnv(args);
  const vaLines: string[] = [];
  const pebble = await startPebble({ httpPort: port, env, log: (l) => void (VA_LINE.test(l) && vaLines.push(l)) });
  closers.push(() => pebble.stop());
  const vaSleepLine = await checkVaSleep(args, vaLines);
  process.stderr.write(`bench: Pebble at ${pebble.directoryUrl}, http-01 responder on 127.0.0.1:${port}; ${vaSleepLine}\n`);

  const ctx = (run: number): CellContext => ({
    directoryUrl: pebble.directoryUrl,
    caPem: pebble.caPem,
    responder,
    domains: args.domains,
    keyType: args.keyType,
    agents: args.agents,
    run,
    tmpRoot,
  });
  const runners: Record<Tool, (c: CellContext) => Promise<CellRun>> = { leec: runLeecCell, 'acme-client': runAcmeClientCell };
  const executed: CellRun[] = [];
  for (let run = 1; run <= args.runs; run++) {
    const order: Tool[] = run % 2 === 1 ? ['leec', 'acme-client'] : ['acme-client', 'leec'];
    for (const tool of order) {
      process.stderr.write(`bench: run ${run}/${args.runs} ${tool} (${args.domains} x ${args.keyType}) ... `);
      const r = await runners[tool](ctx(run));
      executed.push(r);
      process.stderr.write(`${r.wallSeconds.toFixed(3)} s wall, ${r.cpuSeconds.toFixed(3)} s CPU\n`);
    }
  }

  const leec = buildRecord('leec', packageVersion('package.json'), args, executed.filter((r) => r.tool === 'leec'));
  const other = buildRecord('acme-client', packageVersion('node_modules/acme-client/package.json'), args, executed.filter((r) => r.tool === 'acme-client'));
  const cpu = os.cpus()[0];
  const doc: BenchDocument = {
    generatedAt: new Date().toISOString(),
    args,
    node: process.version,
    cpus: cpuCount(),
    cpuModel: cpu?.model.trim() ?? 'unknown',
    platform: `${process.platform} ${os.release()} ${process.arch}`,
    loadAverage: { start: loadAtStart, end: os.loadavg() },
    pebble: { env, vaSleepLine },
    notes: [
      'wall: from just before the first call to the last certificate; setup (leec Supervisor.start, acme-client createAccount) is outside it',
      'cpuSeconds: process.cpuUsage() delta over the same span, every thread of this process (leec worker threads, libuv pool) included; Pebble excluded',
      'requestsPerCert: (requests of the orders + one-time setup requests: directory, nonce, newAccount) / domains; leec setup counted on the main-thread http.client diagnostics channel, its orders from CertificateResult.requests; acme-client via an axios request interceptor (retries included)',
      'p50/p95: nearest rank over per-certificate times from the call (leec: CertificateResult.elapsedMs; acme-client: key generation + CSR + auto())',
      'peakRssMb: process RSS sampled every 50 ms, whole process (shared with Pebble fixture bookkeeping and earlier cells)',
      `acme-client: one Client + account per cell, httpsAgent keepAlive with the Pebble CA, backoffMin 100 ms / backoffMax 5 s, skipChallengeVerification`,
      'leec: fresh Supervisor per cell (fresh store, fresh account), http01 embedded behind the shared responder, maxConcurrentAgents = domains',
    ],
    records: [leec, other],
    ratios: ratios(leec, other),
  };
  process.stdout.write(`\n${formatTable(doc, executed)}`);
  const file = args.json ?? path.join(ROOT, 'bench', 'results', `${doc.generatedAt.replace(/[:.]/g, '-')}.json`);
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(file, `${JSON.stringify(doc, null, 2)}\n`);
  process.stdout.write(`\nJSON: ${path.relative(process.cwd(), path.resolve(file)) || file}\n`);
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
  const closers: Array<() => Promise<void>> = [];
  const cleanup = async (): Promise<void> => {
    for (let c = closers.pop(); c !== undefined; c = closers.pop()) {
      await c().catch((e: unknown) => process.stderr.write(`bench: cleanup failed: ${e instanceof Error ? e.message : String(e)}\n`));
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
    process.exitCode = 1;
  },
);
