/**
 * The `exec` dns-01 provider (RFC 8555 §8.4), as lego's exec provider: an executable of the user's
 * publishes and removes the TXT value. leec runs it without a shell:
 *
 *     <command> present <fqdn> <value>      e.g. present _acme-challenge.example.test. <value>
 *     <command> cleanup <fqdn> <value>
 *
 * with the same facts in the environment (`LEEC_DNS_ACTION`, `LEEC_DNS_FQDN`, `LEEC_DNS_VALUE`,
 * `LEEC_DNS_DOMAIN`), on top of leec's own environment and the caller's `env`. Exit status 0 is success.
 * A non-zero exit, a signal, a spawn failure or the timeout is a `DnsError` (`ERR_DNS_PROVIDER`, step `dns`)
 * whose data holds `exitCode`, `signal`, `timedOut` and the last {@link STDERR_TAIL_CHARS} characters of stderr.
 *
 * The command runs in a process group of its own, and the timeout kills that whole group: a script's
 * children (a `sleep`, a `curl`) would otherwise outlive it and hold its output pipes open. A cleanup
 * must succeed when the value is already gone (the provider contract in provider.ts).
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { DnsError, ErrorCode, InvalidInputError } from '../errors.js';
import type { Dns01Provider, Dns01Record } from './provider.js';

/** Options of {@link createExecProvider}. */
export interface ExecProviderOptions {
  /** Path of the executable (absolute, or relative to the working directory at creation). No PATH search. */
  command: string;
  /** How long one run may take before its process group is killed. Default {@link DEFAULT_EXEC_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Extra environment variables for the command (the `LEEC_DNS_*` ones win over these). */
  env?: Record<string, string>;
}

export const DEFAULT_EXEC_TIMEOUT_MS = 60_000;
/** How much of the command's stderr an error keeps (its end). */
export const STDERR_TAIL_CHARS = 500;
/** After SIGTERM to the group at the timeout, how long before SIGKILL. */
const KILL_GRACE_MS = 2_000;
/** After the command exits, how long to wait for its output pipes to close (a leftover child may hold them). */
const PIPE_GRACE_MS = 200;
const MAX_TIMEOUT_MS = 3_600_000;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function invalid(message: string, data: Record<string, unknown>): InvalidInputError {
  return new InvalidInputError(ErrorCode.invalidOption, message, { step: 'input', data: { provider: 'exec', ...data } });
}

/** Resolves and checks the command: a regular file the current user may execute. */
function checkCommand(command: unknown): string {
  if (typeof command !== 'string' || command === '') throw invalid('exec provider: `command` must be the path of an executable', { option: 'command' });
  const abs = path.resolve(command);
  let isFile: boolean;
  try {
    isFile = statSync(abs).isFile();
  } catch (err) {
    throw invalid(`exec provider: command ${abs} does not exist`, { option: 'command', path: abs, cause: (err as NodeJS.ErrnoException).code });
  }
  if (!isFile) throw invalid(`exec provider: command ${abs} is not a regular file`, { option: 'command', path: abs });
  try {
    accessSync(abs, constants.X_OK);
  } catch {
    throw invalid(`exec provider: command ${abs} is not executable`, { option: 'command', path: abs });
  }
  return abs;
}

function checkTimeout(timeoutMs: unknown): number {
  if (timeoutMs === undefined) return DEFAULT_EXEC_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
    throw invalid(`exec provider: \`timeoutMs\` must be an integer from 1 to ${MAX_TIMEOUT_MS}`, { option: 'timeoutMs' });
  }
  return timeoutMs;
}

function checkEnv(env: unknown): Record<string, string> {
  if (env === undefined) return {};
  if (typeof env !== 'object' || env === null || Array.isArray(env)) throw invalid('exec provider: `env` must be an object of strings', { option: 'env' });
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (!ENV_NAME.test(k)) throw invalid(`exec provider: bad environment variable name ${JSON.stringify(k)}`, { option: 'env', name: k });
    if (typeof v !== 'string' || v.includes('\0')) throw invalid(`exec provider: env.${k} must be a string without NUL`, { option: 'env', name: k });
    out[k] = v;
  }
  return out;
}

/** What one run of the command ended with. */
interface RunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stderr: string;
  spawnError?: string;
}

/** Keeps the last `max` characters written to it. */
class Tail {
  private text = '';
  constructor(private readonly max: number) {}
  push(chunk: string): void {
    this.text = (this.text + chunk).slice(-this.max);
  }
  value(): string {
    return this.text;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal); // the group this provider created (detached: true makes the child its leader)
  } catch {
    // already gone
  }
}

function runOnce(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    const stderr = new Tail(STDERR_TAIL_CHARS);
    let timedOut = false;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const child = spawn(command, args, { env, shell: false, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    const finish = (r: Omit<RunResult, 'stderr' | 'timedOut'>): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      resolve({ ...r, timedOut, stderr: stderr.value() });
    };
    let stderrClosed = child.stderr === null;
    const stderrClose = new Promise<void>((r) => {
      if (child.stderr === null) return r();
      child.stderr.once('close', () => {
        stderrClosed = true;
        r();
      });
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => stderr.push(c));
    child.on('error', (err: NodeJS.ErrnoException) => finish({ exitCode: null, signal: null, spawnError: err.code ?? err.message }));
    let exited = false;
    child.on('exit', (exitCode, signal) => {
      exited = true;
      const pid = child.pid;
      // A leftover grandchild may keep stderr open: wait briefly for it, then stop reading. After a
      // timeout, whatever is left of the group is killed.
      const grace = stderrClosed ? Promise.resolve() : new Promise<void>((r) => timers.push(setTimeout(r, PIPE_GRACE_MS)));
      void Promise.race([stderrClose, grace]).then(() => {
        child.stderr?.destroy();
        if (timedOut && pid !== undefined) killGroup(pid, 'SIGKILL');
        finish({ exitCode, signal });
      });
    });
    timers.push(
      setTimeout(() => {
        if (exited || child.pid === undefined) return;
        timedOut = true;
        const pid = child.pid;
        killGroup(pid, 'SIGTERM');
        timers.push(setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS));
      }, timeoutMs),
    );
  });
}

/**
 * Creates the exec provider. Checks the options and that `command` is an executable regular file first:
 * a bad option is an `InvalidInputError` (`ERR_INVALID_OPTION`, step `input`) and nothing runs.
 */
export function createExecProvider(options: ExecProviderOptions): Dns01Provider {
  const command = checkCommand(options.command);
  const timeoutMs = checkTimeout(options.timeoutMs);
  const extraEnv = checkEnv(options.env);

  async function run(action: 'present' | 'cleanup', record: Dns01Record): Promise<void> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...extraEnv,
      LEEC_DNS_ACTION: action,
      LEEC_DNS_FQDN: record.fqdn,
      LEEC_DNS_VALUE: record.value,
      LEEC_DNS_DOMAIN: record.domain,
    };
    const r = await runOnce(command, [action, record.fqdn, record.value], env, timeoutMs);
    if (r.spawnError === undefined && !r.timedOut && r.exitCode === 0) return;
    const why = r.spawnError !== undefined
      ? `could not start (${r.spawnError})`
      : r.timedOut
        ? `timed out after ${timeoutMs} ms and was killed`
        : r.signal !== null
          ? `was killed by ${r.signal}`
          : `exited with status ${r.exitCode}`;
    throw new DnsError(ErrorCode.dnsProvider, `exec provider: ${path.basename(command)} ${action} ${record.fqdn} ${why}`, {
      step: 'dns',
      data: {
        provider: 'exec',
        action,
        command,
        fqdn: record.fqdn,
        domain: record.domain,
        exitCode: r.exitCode,
        signal: r.signal,
        timedOut: r.timedOut,
        stderr: r.stderr,
        ...(r.spawnError !== undefined ? { cause: r.spawnError } : {}),
      },
    });
  }

  return {
    name: 'exec',
    present: (record) => run('present', record),
    cleanup: (record) => run('cleanup', record),
  };
}

/**
 * The exec provider from the CLI's `--dns-option key=value` pairs: `command=PATH` (required),
 * `timeoutMs=N`, and `env.NAME=VALUE` for each extra environment variable. Any other key is an
 * `InvalidInputError` before anything runs.
 */
export function execFromOptions(raw: Record<string, string>): Dns01Provider {
  const env: Record<string, string> = {};
  let timeoutMs: number | undefined;
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'command') continue;
    if (key === 'timeoutMs') {
      if (!/^[0-9]+$/.test(value)) throw invalid('exec provider: `timeoutMs` must be a whole number of milliseconds', { option: 'timeoutMs' });
      timeoutMs = Number(value);
    } else if (key.startsWith('env.')) {
      env[key.slice(4)] = value;
    } else {
      throw invalid(`exec provider: unknown option ${JSON.stringify(key)} (known: command, timeoutMs, env.NAME)`, { option: key });
    }
  }
  if (raw.command === undefined) throw invalid('exec provider: option `command` is required', { option: 'command' });
  const opts: ExecProviderOptions = { command: raw.command, env };
  if (timeoutMs !== undefined) opts.timeoutMs = timeoutMs;
  return createExecProvider(opts);
}
