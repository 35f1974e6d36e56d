/**
 * The Pebble test fixture: starts `pebble-challtestsrv` (as a DNS server only) and `pebble` on free
 * loopback ports with a throwaway HTTPS CA, waits until both answer, and stops exactly the processes
 * it started. It does not install Pebble (see install.ts) and does not answer challenges: the
 * responder under test listens on `httpPort`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode, InvalidInputError, LeecError } from '../errors.js';
import { freePorts } from '../net/free-port.js';
import { findPebbleBinaries, type PebbleBinaries } from './install.js';
import { createThrowawayCa, type ThrowawayCa } from './throwaway-ca.js';

/** How to start a Pebble fixture. */
export interface PebbleOptions {
  /** Where Pebble's validator connects for http-01 (the responder under test). */
  httpPort: number;
  /** The port Pebble's validator connects to for tls-alpn-01 (default: a free port). */
  tlsPort?: number;
  /** Extra PEBBLE_* variables, e.g. `{ PEBBLE_WFE_NONCEREJECT: '50', PEBBLE_AUTHZREUSE: '100' }`. */
  env?: Record<string, string>;
  /**
   * Where the config and certificate files go. Default: a fresh mkdtemp dir under os.tmpdir(),
   * removed on stop(). A caller-given dir is kept; only the files the fixture wrote are removed.
   */
  workDir?: string;
  /** EAB keys (`{ "kid-1": "<base64url key>" }`); when given, externalAccountBindingRequired is true. */
  externalAccountMACKeys?: Record<string, string>;
  /** Receives the child processes' output lines (default: discard). */
  log?: (line: string) => void;
  /**
   * The throwaway CA material for Pebble's own HTTPS listeners (see createThrowawayCa). Default: a new
   * one generated for this call. Pass one to share it between several Pebbles and skip the RSA key
   * generation each start would otherwise pay.
   */
  tls?: ThrowawayCa;
  /**
   * `127.0.0.1:PORT` of the caller's own DNS server (e.g. a BIND taking RFC 2136 updates) for Pebble's
   * `-dnsserver`, instead of challtestsrv's DNS. challtestsrv still runs; its TXT records are then unused.
   */
  dnsServer?: string;
}

/** A running Pebble and its DNS server. */
export interface PebbleInstance {
  /** `https://127.0.0.1:PORT/dir` */
  directoryUrl: string;
  /** The throwaway CA that signed Pebble's own HTTPS certificate (trust anchor for the ACME API). */
  caPem: string;
  /** `https://127.0.0.1:MPORT` (Pebble's management API: roots, intermediates). */
  managementUrl: string;
  /** `127.0.0.1:DNSPORT`: the DNS server Pebble resolves names with: `dnsServer` when given, else challtestsrv's. */
  dnsAddress: string;
  /** `http://127.0.0.1:CPORT`: challtestsrv management (POST /set-txt, /clear-txt). */
  challtestsrvUrl: string;
  /** The tls-alpn-01 port Pebble's validator connects to. */
  tlsPort: number;
  /** The directory holding the config and certificate files. */
  workDir: string;
  /** The PIDs this fixture started. */
  pids: number[];
  /** GET `{managementUrl}/roots/0` trusting caPem only: the root that issues certificates (new at every start). */
  fetchRootPem(): Promise<string>;
  /** GET `{managementUrl}/intermediates/0` trusting caPem only. */
  fetchIntermediatePem(): Promise<string>;
  /** SIGTERM its own children by PID, wait for exit (SIGKILL after 3 s), remove workDir. Idempotent. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 15_000;
const POLL_MS = 50;
const KILL_GRACE_MS = 3_000;
const START_ATTEMPTS = 3;
const OUTPUT_LINES = 80;

/** A child process run under the guard below (exported for other loopback test fixtures, e.g. BIND). */
export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  exited: boolean;
  exit: Promise<void>;
  exitDescription: string;
}

/** The last output lines of a fixture's children, for error messages. */
export class OutputRing {
  private readonly lines: string[] = [];
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > OUTPUT_LINES) this.lines.shift();
  }
  text(): string {
    return this.lines.join('\n');
  }
}

/**
 * Runs the real binary under a small POSIX sh guard that ends it when this Node process goes away, even
 * by SIGKILL or a test runner's timeout (an 'exit' hook does not run then): the guard holds a pipe from
 * us on fd 0 and, at its EOF, sends the binary SIGTERM. SIGTERM to the guard is passed on too, and the
 * guard exits with the binary's status, so an early exit of Pebble is still seen at once.
 */
const GUARD_SCRIPT = [
  'exec 3<&0',
  '"$@" </dev/null 3<&- &',
  'child=$!',
  '( while read -r _; do :; done; kill -TERM "$child" 2>/dev/null ) <&3 &',
  'watcher=$!',
  'exec 3<&-',
  'trap \'kill -TERM "$child" 2>/dev/null\' TERM INT',
  'wait "$child"; status=$?',
  'if kill -0 "$child" 2>/dev/null; then wait "$child"; status=$?; fi',
  'kill "$watcher" 2>/dev/null',
  'exit "$status"',
].join('\n');

export function spawnChild(
  name: string,
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  log: (line: string) => void,
  output: OutputRing,
): Child {
  const proc = spawn('/bin/sh', ['-c', GUARD_SCRIPT, `leec-guard-${name}`, file, ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const child: Child = {
    name,
    proc,
    pid: proc.pid ?? -1,
    exited: false,
    exit: Promise.resolve(),
    exitDescription: '',
  };
  child.exit = new Promise<void>((resolve) => {
    const done = (desc: string): void => {
      if (child.exited) return;
      child.exited = true;
      child.exitDescription = desc;
      resolve();
    };
    proc.once('exit', (code, signal) => done(signal !== null ? `signal ${signal}` : `exit code ${code}`));
    proc.once('error', (err) => done(`spawn error: ${err.message}`));
  });
  const onLines = (stream: NodeJS.ReadableStream | null): void => {
    if (stream === null) return;
    let buf = '';
    stream.setEncoding('utf8');
    const emit = (line: string): void => {
      const l = `${name}: ${line}`;
      output.push(l);
      log(l);
    };
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        emit(buf.slice(0, i).replace(/\r$/, ''));
        buf = buf.slice(i + 1);
      }
    });
    stream.on('end', () => {
      if (buf !== '') emit(buf);
    });
  };
  onLines(proc.stdout);
  onLines(proc.stderr);
  return child;
}

/** Lets the process exit while a forgotten fixture still runs (its exit hook then kills it). */
export function unrefChild(c: Child): void {
  c.proc.unref();
  (c.proc.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  (c.proc.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (c.proc.stderr as unknown as { unref?: () => void } | null)?.unref?.();
}

/** SIGTERM by PID, wait for the exit (SIGKILL after 3 s). */
export async function killChild(c: Child): Promise<void> {
  if (c.exited) return;
  if (c.pid <= 0) {
    await c.exit; // never started: its 'error' event settles it; never signal pid -1
    return;
  }
  c.proc.ref(); // keep the loop alive until its exit is seen
  try {
    process.kill(c.pid, 'SIGTERM');
  } catch {
    // gone already
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    c.exit.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), KILL_GRACE_MS);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut && !c.exited) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // gone already
    }
    await c.exit;
  }
  // Closing the guard's pipe makes its watcher end the binary, should the guard itself have been killed.
  c.proc.stdin?.destroy();
}

interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(url: string, opts: { method?: string; ca?: string; timeoutMs?: number } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const reqOpts: https.RequestOptions = { method: opts.method ?? 'GET', agent: false, timeout: opts.timeoutMs ?? 2_000 };
    if (opts.ca !== undefined) reqOpts.ca = opts.ca;
    const req = mod.request(u, reqOpts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout requesting ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 50 ms until it answers true; fails at once when one of `children` exits. */
async function waitReady(
  what: string,
  check: () => Promise<boolean>,
  children: Child[],
  output: OutputRing,
): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = '';
  for (;;) {
    const dead = children.find((c) => c.exited);
    if (dead !== undefined) {
      const out = output.text();
      throw new LeecError('ERR_PEBBLE_START', `${dead.name} exited early (${dead.exitDescription}) while waiting for ${what}:\n${out}`, {
        data: { addressInUse: /address already in use/i.test(out) },
      });
    }
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new LeecError(
        'ERR_PEBBLE_START',
        `${what} was not ready after ${READY_TIMEOUT_MS} ms${lastError === '' ? '' : ` (last error: ${lastError})`}:\n${output.text()}`,
      );
    }
    await Promise.race([sleep(POLL_MS), ...children.map((c) => c.exit)]);
  }
}

function checkPort(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 65535)) {
    throw new InvalidInputError(ErrorCode.invalidOption, `startPebble: ${name} must be an integer port, got ${String(v)}`);
  }
}

function checkDnsServer(v: string | undefined): void {
  if (v === undefined) return;
  const m = typeof v === 'string' ? /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(v) : null;
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || port < 1 || port > 65535) {
    throw new InvalidInputError(ErrorCode.invalidOption, `startPebble: dnsServer must be "IPv4:PORT", got ${JSON.stringify(String(v))}`);
  }
}

function childEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // Inherited PEBBLE_* variables are dropped so the outer shell cannot change what tests see.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PEBBLE_')) env[k] = v;
  env['PEBBLE_VA_NOSLEEP'] = '1';
  Object.assign(env, extra ?? {});
  if (env['PEBBLE_VA_ALWAYS_VALID'] !== undefined) {
    throw new InvalidInputError(
      ErrorCode.invalidOption,
      'startPebble: PEBBLE_VA_ALWAYS_VALID is refused: the fixture exists to validate challenges for real',
    );
  }
  return env;
}

/**
 * The 'exit' handler of one fixture start: if the process exits without stop(), SIGKILLs that start's
 * own children by PID (synchronously, as 'exit' handlers must be) and removes the temp workDir it made.
 * Each start registers its own and removes it once its cleanup is done, so nothing is shared.
 */
function exitHook(children: readonly Child[], ownWorkDir: string | undefined): () => void {
  return () => {
    for (const c of children) {
      if (c.exited || c.pid <= 0) continue;
      try {
        process.kill(c.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (ownWorkDir !== undefined) rmSync(ownWorkDir, { recursive: true, force: true });
  };
}

async function startOnce(
  bins: PebbleBinaries,
  tlsMaterial: Promise<ThrowawayCa>,
  opts: PebbleOptions,
  env: NodeJS.ProcessEnv,
): Promise<PebbleInstance> {
  const log = opts.log ?? (() => {});
  const ownDir = opts.workDir === undefined;
  const workDir = ownDir ? await mkdtemp(path.join(os.tmpdir(), 'leec-pebble-')) : path.resolve(opts.workDir as string);
  if (!ownDir) await mkdir(workDir, { recursive: true });
  const children: Child[] = [];
  const onExit = exitHook(children, ownDir ? workDir : undefined);
  process.once('exit', onExit);
  const files = {
    cert: path.join(workDir, 'pebble-cert.pem'),
    key: path.join(workDir, 'pebble-key.pem'),
    ca: path.join(workDir, 'pebble-ca.pem'),
    config: path.join(workDir, 'pebble-config.json'),
  };
  const output = new OutputRing();

  const cleanup = async (): Promise<void> => {
    await Promise.all(children.map(killChild));
    if (ownDir) await rm(workDir, { recursive: true, force: true });
    else await Promise.all(Object.values(files).map((f) => rm(f, { force: true })));
    process.off('exit', onExit); // only once its children are gone and its files removed
  };

  try {
    // UDP is checked for every port: cheap, and the DNS port needs it.
    const [acmePort, mgmtPort, dnsPort, ctsPort, freeTls] = await freePorts(5, HOST, { udp: true });
    const tlsPort = opts.tlsPort ?? (freeTls as number);
    const ctsDnsAddress = `${HOST}:${dnsPort}`;
    const dnsAddress = opts.dnsServer ?? ctsDnsAddress;
    const challtestsrvUrl = `http://${HOST}:${ctsPort}`;

    const config: Record<string, unknown> = {
      listenAddress: `${HOST}:${acmePort}`,
      managementListenAddress: `${HOST}:${mgmtPort}`,
      certificate: files.cert,
      privateKey: files.key,
      httpPort: opts.httpPort,
      tlsPort,
      ocspResponderURL: '',
    };
    if (opts.externalAccountMACKeys !== undefined) {
      config['externalAccountBindingRequired'] = true;
      config['externalAccountMACKeys'] = opts.externalAccountMACKeys;
    }
    const cts = spawnChild(
      'challtestsrv',
      bins.challtestsrv,
      ['-http01', '', '-https01', '', '-tlsalpn01', '', '-dns01', ctsDnsAddress, '-management', `${HOST}:${ctsPort}`,
        '-defaultIPv4', HOST, '-defaultIPv6', ''],
      env,
      workDir,
      log,
      output,
    );
    children.push(cts);
    await waitReady('pebble-challtestsrv management', async () => {
      await request(`${challtestsrvUrl}/`, { timeoutMs: 1_000 });
      return true; // any HTTP answer means it listens
    }, children, output);

    // The certificate keys may still be generating while challtestsrv starts.
    const tls = await tlsMaterial;
    await Promise.all([
      writeFile(files.cert, tls.certPem, { mode: 0o600 }),
      writeFile(files.key, tls.keyPem, { mode: 0o600 }),
      writeFile(files.ca, tls.caPem, { mode: 0o600 }),
      writeFile(files.config, JSON.stringify({ pebble: config }, null, 2), { mode: 0o600 }),
    ]);
    const pebble = spawnChild(
      'pebble',
      bins.pebble,
      ['-config', files.config, '-dnsserver', dnsAddress],
      env,
      workDir,
      log,
      output,
    );
    children.push(pebble);
    const directoryUrl = `https://${HOST}:${acmePort}/dir`;
    await waitReady('pebble GET /dir', async () => {
      const res = await request(directoryUrl, { ca: tls.caPem, timeoutMs: 1_000 });
      return res.status === 200;
    }, children, output);

    for (const c of children) unrefChild(c);
    const managementUrl = `https://${HOST}:${mgmtPort}`;
    const fetchPem = async (p: string): Promise<string> => {
      const res = await request(`${managementUrl}${p}`, { ca: tls.caPem, timeoutMs: 5_000 });
      if (res.status !== 200) {
        throw new LeecError('ERR_PEBBLE_MANAGEMENT', `GET ${managementUrl}${p} answered ${res.status}: ${res.body.slice(0, 200)}`);
      }
      return res.body;
    };
    let stopping: Promise<void> | undefined;
    return {
      directoryUrl,
      caPem: tls.caPem,
      managementUrl,
      dnsAddress,
      challtestsrvUrl,
      tlsPort,
      workDir,
      pids: children.map((c) => c.pid),
      fetchRootPem: () => fetchPem('/roots/0'),
      fetchIntermediatePem: () => fetchPem('/intermediates/0'),
      stop: () => (stopping ??= cleanup()),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * Starts challtestsrv (DNS only) and Pebble on free 127.0.0.1 ports and resolves when `GET /dir`
 * answers 200 over HTTPS trusting only the throwaway CA. Sets `PEBBLE_VA_NOSLEEP=1`; keeps Pebble's
 * default 5% nonce rejection unless `env` says otherwise. A port lost to another process between
 * allocation and bind is retried (up to 3 starts).
 * @throws LeecError `ERR_PEBBLE_MISSING` when the binaries are absent, `ERR_PEBBLE_START` when a child
 *   exits early or is not ready within 15 s (the message carries its output).
 */
export async function startPebble(opts: PebbleOptions): Promise<PebbleInstance> {
  checkPort('httpPort', opts.httpPort);
  checkPort('tlsPort', opts.tlsPort);
  checkDnsServer(opts.dnsServer);
  const env = childEnv(opts.env);
  const bins = findPebbleBinaries();
  if (bins === null) {
    throw new LeecError(
      'ERR_PEBBLE_MISSING',
      'Pebble is not installed (pebble and pebble-challtestsrv were not found in /usr/bin or PATH): run `sudo apt-get install -y pebble`',
    );
  }
  // One CA per call (shared by its retries), unless the caller brings one. The no-op catch only keeps a
  // failed generation from being an unhandled rejection when an attempt fails before awaiting it.
  const tls = opts.tls !== undefined ? Promise.resolve(opts.tls) : createThrowawayCa();
  tls.catch(() => {});
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(bins, tls, opts, env);
    } catch (err) {
      const retry = err instanceof LeecError && err.code === 'ERR_PEBBLE_START' && err.data['addressInUse'] === true && attempt < START_ATTEMPTS;
      if (!retry) throw err;
      opts.log?.(`pebble fixture: a port was taken before Pebble bound it; retrying (attempt ${attempt + 1})`);
    }
  }
}
