/**
 * A cell for lego or certbot: N processes, one certificate each, at most `jobs` at once (like
 * `xargs -P`). Client CPU is the children's (cutime + cstime of this process once each is reaped); RSS
 * is the sum over the live children, sampled; requests come from Pebble's log (run.ts), as these tools
 * cannot be counted from inside.
 */
import { execFile, spawn } from 'node:child_process';
import { readFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { checkIssued, type CellContext } from './leec-runner.js';
import { cellRun, startMeter, type CellRun, type MeterReading } from './measure.js';
import { parseVersion, type CliPeer, type PeerJob } from './cli-peers.js';
import { reapedChildrenCpuSeconds, rssBytes } from './proc-stat.js';
import { webrootListener } from './webroot-listener.js';

const execFileAsync = promisify(execFile);
const OUTPUT_TAIL = 15;

/** Where `program` is on PATH (POSIX `command -v`), and its version; or why it cannot be used. */
export async function detectCliPeer(peer: CliPeer): Promise<{ binary: string; version: string } | { skipped: string }> {
  let binary: string;
  try {
    binary = (await execFileAsync('/bin/sh', ['-c', 'command -v "$1"', 'sh', peer.program])).stdout.trim();
  } catch {
    return { skipped: `${peer.program} is not installed (command -v ${peer.program} found nothing on PATH; Debian: apt-get install ${peer.program})` };
  }
  if (binary === '') return { skipped: `${peer.program} is not installed (command -v ${peer.program} found nothing on PATH)` };
  try {
    const { stdout, stderr } = await execFileAsync(binary, peer.versionArgs, { timeout: 30_000 });
    return { binary, version: parseVersion(`${stdout}\n${stderr}`) };
  } catch (e) {
    return { skipped: `${binary} ${peer.versionArgs.join(' ')} failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` };
  }
}

/** Runs one process to its end; rejects with its last output lines when it does not exit 0. */
function runOne(binary: string, name: string, args: string[], env: Record<string, string>, live: Set<number>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const keep = (chunk: Buffer): void => {
      tail.push(...chunk.toString('utf8').split('\n').filter((l) => l.trim() !== ''));
      tail.splice(0, Math.max(0, tail.length - OUTPUT_TAIL));
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    if (child.pid !== undefined) live.add(child.pid);
    child.once('error', (e) => {
      if (child.pid !== undefined) live.delete(child.pid);
      reject(e);
    });
    child.once('close', (code, signal) => {
      if (child.pid !== undefined) live.delete(child.pid);
      if (code === 0) resolve();
      else reject(new Error(`${path.basename(binary)} for ${name} exited with ${signal ?? `code ${code}`}: ${tail.join(' | ')}`));
    });
  });
}

export async function runCliPeerCell(peer: CliPeer, binary: string, jobs: number, ctx: CellContext, ticks: number): Promise<CellRun> {
  const root = await mkdtemp(path.join(ctx.tmpRoot, `${peer.name}-${ctx.tag}-`));
  const webroot = path.join(root, 'webroot');
  await mkdir(path.join(webroot, '.well-known', 'acme-challenge'), { recursive: true });
  const caFile = path.join(root, 'pebble-ca.pem');
  await writeFile(caFile, ctx.caPem);
  const prefix = peer.name === 'lego' ? 'g' : 'b';
  const jobsList: PeerJob[] = Array.from({ length: ctx.domains }, (_, i) => ({
    directoryUrl: ctx.directoryUrl,
    caFile,
    name: `${prefix}-${ctx.tag}-${i}.bench.test`,
    keyType: ctx.keyType,
    webroot,
    dir: path.join(root, `p${i}`),
  }));
  const live = new Set<number>();
  ctx.responder.use(webrootListener(webroot));
  try {
    const meter = startMeter({
      cpuSeconds: () => reapedChildrenCpuSeconds(ticks),
      rssBytes: () => [...live].reduce((sum, pid) => sum + rssBytes(pid), 0),
      serverCpuSeconds: ctx.serverCpuSeconds,
    });
    const perCert: number[] = new Array<number>(jobsList.length).fill(Number.NaN);
    let next = 0;
    let failure: unknown;
    let reading: MeterReading;
    try {
      // After a failure no new process starts; the running ones are waited for (never left behind).
      const worker = async (): Promise<void> => {
        for (let i = next++; i < jobsList.length && failure === undefined; i = next++) {
          const job = jobsList[i]!;
          const { args, env } = peer.command(job);
          const t = performance.now();
          try {
            await runOne(binary, job.name, args, env, live);
            perCert[i] = (performance.now() - t) / 1000;
          } catch (e) {
            failure ??= e;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(jobs, jobsList.length) }, worker));
    } finally {
      reading = meter.stop();
    }
    if (failure !== undefined) throw failure;
    for (const job of jobsList) checkIssued(job.name, await readFile(peer.certificateFile(job), 'utf8'));
    return cellRun({
      tool: peer.name,
      run: ctx.run,
      reading,
      perCertSeconds: perCert,
      certRequests: Number.NaN,
      setupRequests: Number.NaN,
      timelines: [],
      extra: { parallelProcesses: Math.min(jobs, jobsList.length) },
    });
  } finally {
    ctx.responder.use(undefined);
    await rm(root, { recursive: true, force: true });
  }
}
