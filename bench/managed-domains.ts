/**
 * What N managed domains cost a running supervisor (the lifecycle issue's "1000 managed domains"): issue N
 * certificates from Pebble through one supervisor, wait until the agents' threads went idle, and measure
 * the process's RSS, heap, OS threads and active handles; then restart the supervisor on the same store
 * and measure again once the schedule is rebuilt from the store (N certificates loaded, one timer).
 *
 *   npm run bench:managed -- [--domains 1000] [--agents A] [--json FILE]   (--agents: maxConcurrentAgents, default the library's)
 *
 * Pebble runs with PEBBLE_VA_NOSLEEP=1 and its default 5% badNonce rejection. Everything listens on
 * 127.0.0.1 on free ports; the store is a temp directory, removed at the end.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../src/net/free-port.js';
import { startPebble } from '../src/pebble/pebble-server.js';
import { Supervisor } from '../src/supervisor.js';
import { DEFAULT_MAX_CONCURRENT_AGENTS } from '../src/options.js';
import { ROOT } from './cell.js';

interface Sample {
  rssMb: number;
  heapUsedMb: number;
  osThreads: number;
  agentThreads: number;
  handles: Record<string, number>;
}

async function sample(sup: Supervisor): Promise<Sample> {
  const status = await readFile('/proc/self/status', 'utf8');
  const threads = Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
  const handles: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) handles[r] = (handles[r] ?? 0) + 1;
  const m = process.memoryUsage();
  return { rssMb: m.rss / 2 ** 20, heapUsedMb: m.heapUsed / 2 ** 20, osThreads: threads, agentThreads: sup.threads.running, handles };
}

async function idle(sup: Supervisor, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (sup.threads.running > 0 && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 250));
  return Date.now() - t0;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { domains: { type: 'string', default: '1000' }, agents: { type: 'string', default: String(DEFAULT_MAX_CONCURRENT_AGENTS) }, json: { type: 'string' } } });
  const n = Number(values.domains);
  const agents = Number(values.agents);
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(agents) || agents < 1) throw new Error('--domains and --agents must be whole numbers >= 1');
  const httpPort = await freePort();
  const pebble = await startPebble({ httpPort, env: { PEBBLE_VA_NOSLEEP: '1' } });
  const storeDir = await mkdtemp(path.join(os.tmpdir(), 'leec-bench-managed-'));
  const opts = {
    directoryUrl: pebble.directoryUrl,
    caBundle: pebble.caPem,
    storeDir,
    keyType: 'ec256' as const,
    http01: { mode: 'standalone' as const, port: httpPort },
    maxConcurrentAgents: agents,
  };
  try {
    const baselineRss = process.memoryUsage().rss / 2 ** 20;
    let sup = await Supervisor.start(opts);
    const t0 = Date.now();
    let peakRss = 0;
    let peakThreads = 0;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss / 2 ** 20);
      peakThreads = Math.max(peakThreads, sup.threads.running);
    }, 100);
    const names = Array.from({ length: n }, (_, i) => `m${i}.managed.example.test`);
    let done = 0;
    await Promise.all(
      names.map((d) =>
        sup.obtainCertificate(d).then(() => {
          done += 1;
          if (done % 100 === 0) process.stderr.write(`bench:managed: ${done}/${n} issued\n`);
        }),
      ),
    );
    const issueSeconds = (Date.now() - t0) / 1000;
    clearInterval(sampler);
    const idleAfterMs = await idle(sup, 60_000);
    const managed = sup.renewals().length;
    const running = await sample(sup);
    await sup.shutdown();

    // A restart: the schedule is rebuilt from the store, the certificates loaded into the SNI cache.
    const t1 = Date.now();
    sup = await Supervisor.start(opts);
    const restartSeconds = (Date.now() - t1) / 1000;
    const rebuilt = sup.renewals();
    const afterRestart = await sample(sup);
    await sup.shutdown();

    const doc = {
      tool: 'leec',
      benchmark: 'managed-domains',
      domains: n,
      maxConcurrentAgents: agents,
      node: process.version,
      cpus: os.cpus().length,
      issueSeconds,
      certsPerSecond: n / issueSeconds,
      peakRssMbWhileIssuing: peakRss,
      peakAgentThreadsWhileIssuing: peakThreads,
      baselineRssMb: baselineRss,
      idleAfterMs,
      managedAfterIssue: managed,
      idle: running,
      restartSeconds,
      managedAfterRestart: rebuilt.length,
      nextRenewalAfterRestart: rebuilt[0]?.at === undefined ? undefined : new Date(rebuilt[0].at).toISOString(),
      afterRestart,
    };
    const line = (label: string, s: Sample): string =>
      `${label.padEnd(34)} RSS ${s.rssMb.toFixed(0).padStart(4)} MB  heap ${s.heapUsedMb.toFixed(0).padStart(4)} MB  OS threads ${String(s.osThreads).padStart(3)}  agent threads ${s.agentThreads}  timers ${s.handles['Timeout'] ?? 0}`;
    process.stdout.write(
      [
        `${n} domains issued in ${issueSeconds.toFixed(1)} s (${doc.certsPerSecond.toFixed(1)}/s), at most ${peakThreads} agent threads, peak RSS ${peakRss.toFixed(0)} MB (baseline ${baselineRss.toFixed(0)} MB)`,
        line(`${managed} managed, agents idle (${(idleAfterMs / 1000).toFixed(1)} s)`, running),
        line(`restarted in ${restartSeconds.toFixed(2)} s, ${rebuilt.length} rebuilt`, afterRestart),
        '',
      ].join('\n'),
    );
    const file = path.resolve(values.json ?? path.join(ROOT, 'bench', 'results', `managed-${new Date().toISOString().replace(/[:.]/g, '-')}.json`));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(doc, null, 2)}\n`);
    process.stdout.write(`JSON: ${path.relative(process.cwd(), file)}\n`);
  } finally {
    await pebble.stop();
    await rm(storeDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:managed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
