/**
 * Test fixture: a real BIND (`named`) on 127.0.0.1 serving one zone that takes TSIG-signed RFC 2136
 * updates, for the rfc2136 provider and for Pebble's `-dnsserver` (see /work/shared/reference/bind-facts.md).
 *
 * Each start gets a fresh temp dir (zone journals are replayed on restart), a port free for TCP and UDP,
 * a new random key, and runs `named -g -4 -n 1` as a child under the same guard as the Pebble fixture
 * (it dies with the test process). Ready when a TXT record unique to this instance answers; an answer
 * from another server on the port (a lost port race) restarts on another port. stop() SIGTERMs its own
 * child by PID, waits, and removes the temp dir.
 */
import { execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Resolver } from 'node:dns/promises';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from '../../src/net/free-port.js';
import { killChild, OutputRing, spawnChild, unrefChild, type Child } from '../../src/pebble/pebble-server.js';

export type BindKeyAlgorithm = 'hmac-sha256' | 'hmac-sha512' | 'hmac-sha1';

export interface BindOptions {
  /** The zone to serve, without trailing dot: `example.test`. */
  zone: string;
  /** Default `hmac-sha256`. */
  keyAlgorithm?: BindKeyAlgorithm;
  /** Extra A records: relative names (`www`, `_x.y`) or absolute ones (`www.example.test.`) → IPv4. */
  aRecords?: Record<string, string>;
  /** Receives named's output lines (default: discard). */
  log?: (line: string) => void;
}

export interface BindInstance {
  /** `127.0.0.1:PORT`: UDP and TCP. */
  address: string;
  port: number;
  /** The zone, without trailing dot. */
  zone: string;
  keyName: string;
  /** base64. */
  keySecret: string;
  keyAlgorithm: BindKeyAlgorithm;
  pid: number;
  /** SIGTERM named (by PID), wait for its exit, remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 5_000;
const POLL_MS = 15;
const START_ATTEMPTS = 3;
const KEY_NAME = 'acme-key';
const KEY_BYTES: Record<BindKeyAlgorithm, number> = { 'hmac-sha256': 32, 'hmac-sha512': 64, 'hmac-sha1': 20 };

/** The `named` binary, or null when BIND is not installed. */
export function findNamed(): string | null {
  return ['/usr/sbin/named', '/usr/bin/named'].find(isExecutable) ?? null;
}

/** Why BIND tests cannot run here, or undefined when they can (for `{ skip }`). */
export function bindMissing(): string | undefined {
  return findNamed() === null ? 'BIND is not installed: run `sudo apt-get install -y bind9 bind9-dnsutils`' : undefined;
}

function zoneFile(zone: string, readyValue: string, aRecords: Record<string, string>): string {
  const lines = [
    '$TTL 60',
    `@ IN SOA ns1.${zone}. hostmaster.${zone}. ( 1 3600 600 86400 60 )`,
    `@ IN NS ns1.${zone}.`,
    `@ IN A ${HOST}`,
    `ns1 IN A ${HOST}`,
    `* IN A ${HOST}`,
    `leec-ready IN TXT "${readyValue}"`,
  ];
  for (const [name, ip] of Object.entries(aRecords)) lines.push(`${name} IN A ${ip}`);
  // No AAAA anywhere: Pebble 2.4.0 dials the AAAA answer first, with no fallback.
  return `${lines.join('\n')}\n`;
}

function namedConf(dir: string, port: number, zone: string, alg: BindKeyAlgorithm, secret: string): string {
  return `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  listen-on port ${port} { ${HOST}; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
  allow-transfer { none; };
};
controls { };
key "${KEY_NAME}" {
  algorithm ${alg};
  secret "${secret}";
};
zone "${zone}" {
  type primary;
  file "${dir}/${zone}.zone";
  allow-update { key "${KEY_NAME}"; };
};
`;
}

type Probe = 'ready' | 'notYet' | 'foreign';

/** One TXT query for the instance's ready record. */
async function probe(port: number, zone: string, readyValue: string): Promise<Probe> {
  const r = new Resolver({ timeout: 200, tries: 1 });
  r.setServers([`${HOST}:${port}`]);
  try {
    const txt = await r.resolveTxt(`leec-ready.${zone}`);
    return txt.some((t) => t.join('') === readyValue) ? 'ready' : 'foreign';
  } catch (err) {
    const code = (err as { code?: string }).code;
    // Nobody listening yet, or named still loading the zone (SERVFAIL/REFUSED while it loads).
    if (code === 'ECONNREFUSED' || code === 'ETIMEOUT' || code === 'ESERVFAIL' || code === 'EREFUSED') return 'notYet';
    return 'foreign'; // an authoritative "no such record" from a server that is not this one
  }
}

class StartError extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

async function startOnce(named: string, opts: BindOptions): Promise<BindInstance> {
  const zone = opts.zone.replace(/\.$/, '').toLowerCase();
  const alg = opts.keyAlgorithm ?? 'hmac-sha256';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'leec-bind-'));
  const output = new OutputRing();
  const log = opts.log ?? (() => {});
  const children: Child[] = [];
  const onExit = (): void => {
    for (const c of children) {
      if (!c.exited && c.pid > 0) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const cleanup = async (): Promise<void> => {
    await Promise.all(children.map(killChild));
    await rm(dir, { recursive: true, force: true });
    process.off('exit', onExit);
  };
  try {
    const [port] = (await freePorts(1, HOST, { udp: true })) as [number];
    const secret = randomBytes(KEY_BYTES[alg]).toString('base64');
    const readyValue = `leec-${randomBytes(12).toString('hex')}`;
    const conf = path.join(dir, 'named.conf');
    await writeFile(path.join(dir, `${zone}.zone`), zoneFile(zone, readyValue, opts.aRecords ?? {}), { mode: 0o600 });
    await writeFile(conf, namedConf(dir, port, zone, alg, secret), { mode: 0o600 });
    const child = spawnChild('named', named, ['-g', '-4', '-n', '1', '-c', conf], process.env, dir, log, output);
    children.push(child);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (child.exited) {
        const out = output.text();
        throw new StartError(`named exited early (${child.exitDescription}):\n${out}`, /address in use/i.test(out));
      }
      const p = await probe(port, zone, readyValue);
      if (p === 'ready') break;
      if (p === 'foreign') throw new StartError(`another DNS server answers on ${HOST}:${port}`, true);
      if (/address in use/i.test(output.text())) throw new StartError(`named could not bind ${HOST}:${port}:\n${output.text()}`, true);
      if (Date.now() > deadline) throw new StartError(`named was not ready after ${READY_TIMEOUT_MS} ms:\n${output.text()}`, false);
      await Promise.race([new Promise((r) => setTimeout(r, POLL_MS)), child.exit]);
    }
    unrefChild(child);
    let stopping: Promise<void> | undefined;
    return {
      address: `${HOST}:${port}`,
      port,
      zone,
      keyName: KEY_NAME,
      keySecret: secret,
      keyAlgorithm: alg,
      pid: child.pid,
      stop: () => (stopping ??= cleanup()),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * Starts named for `opts.zone` (SOA, NS ns1, apex A, ns1 A and `*` A, all 127.0.0.1, no AAAA, plus
 * `aRecords`), taking updates signed with a fresh key `acme-key`.
 * @throws Error when BIND is missing or does not start within 5 s (the message carries named's output).
 */
export async function startBind(opts: BindOptions): Promise<BindInstance> {
  const named = findNamed();
  if (named === null) throw new Error(bindMissing());
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(named, opts);
    } catch (err) {
      if (!(err instanceof StartError && err.retry && attempt < START_ATTEMPTS)) throw err;
    }
  }
}

/**
 * Runs `nsupdate` (BIND's own client, an independent RFC 2136 + TSIG implementation) with the given
 * update lines (`update add NAME TTL TXT "v"`), signed with the instance's key.
 */
export function nsupdate(bind: BindInstance, lines: string[]): Promise<void> {
  const script = [`server ${HOST} ${bind.port}`, `zone ${bind.zone}`, ...lines, 'send', ''].join('\n');
  return new Promise((resolve, reject) => {
    const child = execFile('nsupdate', ['-y', `${bind.keyAlgorithm}:${bind.keyName}:${bind.keySecret}`], { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`nsupdate failed: ${err.message}\n${stderr}`));
      else resolve();
    });
    child.stdin?.end(script);
  });
}

/** The TXT values at `name` as BIND serves them (each RR's strings joined); [] for no data / no name. */
export async function txtAt(bind: BindInstance, name: string): Promise<string[]> {
  const r = new Resolver({ timeout: 1_000, tries: 2 });
  r.setServers([bind.address]);
  try {
    return (await r.resolveTxt(name)).map((t) => t.join('')).sort();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENODATA' || code === 'ENOTFOUND') return [];
    throw err;
  }
}

/**
 * Runs a BIND tool (`dig`, `nsupdate`) against a UDP socket of ours on a free port, returns the first
 * datagram it sends, then kills that tool (by its PID, it is our child). `args` and `stdin` may use
 * `PORT`, replaced by the socket's port. Resolves null when the tool is not installed.
 */
export async function captureFirstDatagram(tool: 'dig' | 'nsupdate', args: string[], stdin = ''): Promise<Buffer | null> {
  const file = `/usr/bin/${tool}`;
  if (!isExecutable(file)) return null;
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, HOST, () => resolve()));
  const port = String(sock.address().port);
  try {
    const first = new Promise<Buffer>((resolve) => sock.once('message', (m) => resolve(m)));
    const child = spawn(file, args.map((a) => a.replaceAll('PORT', port)), { stdio: ['pipe', 'ignore', 'ignore'] });
    child.stdin.end(stdin.replaceAll('PORT', port));
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        first,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${tool} sent nothing within 5 s`)), 5_000);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    }
  } finally {
    sock.close();
  }
}

function isExecutable(f: string): boolean {
  try {
    accessSync(f, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `dig +noall +answer` at the instance: the answer lines, whitespace squeezed (TTL included). */
export function digAnswer(bind: BindInstance, name: string, type: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('dig', [`@${HOST}`, '-p', String(bind.port), '+noall', '+answer', '+tries=2', '+timeout=1', name, type], { timeout: 10_000 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout.split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/).join(' ')));
    });
  });
}
