/**
 * Command-line flags of `npm run bench`: parsed with node:util parseArgs and checked before anything
 * is started (no Pebble, no port, no thread), so a typo costs nothing. Every axis of the matrix takes a
 * comma list (`--domains 10,50`); no flag means the whole default axis. Throws BenchUsageError.
 */
import { parseArgs } from 'node:util';
import { KEY_TYPES, isKeyType, type KeyType } from '../src/crypto/key-type.js';
import { fillOptions } from '../src/options.js';

export type BenchMode = 'fast' | 'realistic';
/** The tools leec is compared with, in the same run and on the same Pebble. */
export type PeerName = 'acme-client' | 'lego' | 'certbot';

export const MODES: readonly BenchMode[] = ['fast', 'realistic'];
export const PEERS: readonly PeerName[] = ['acme-client', 'lego', 'certbot'];
export const DEFAULT_DOMAINS: readonly number[] = [1, 10, 50, 200];
export const DEFAULT_KEY_TYPES: readonly KeyType[] = ['ec256', 'rsa2048', 'rsa4096'];
export const MAX_DOMAINS = 500;

export interface BenchArgs {
  /** Certificates per cell, ascending. */
  domains: number[];
  keyTypes: KeyType[];
  modes: BenchMode[];
  /** Runs per tool and cell (the figures are medians over them). */
  runs: number;
  peers: PeerName[];
  /** Where the JSON document goes; undefined: bench/results/<timestamp>.json. */
  json: string | undefined;
  /** Where the HTML report goes; undefined: the JSON's path with .html. */
  html: string | undefined;
  /** leec's maxConcurrentAgents (worker threads at once); default: the library's default. */
  agents: number;
  /** leec's agentsPerThread; default: the library's default for `agents` (one thread per core). */
  agentsPerThread: number;
  /** lego / certbot processes at once (each issues one certificate); default: the same as agents. */
  peerJobs: number;
  /**
   * True when --domains and --key-type were both given, or --all: heavy cells, and lego/certbot above
   * 50 domains, are then kept.
   */
  keepHeavy: boolean;
}

export const USAGE = `usage: npm run bench -- [--domains N,...] [--key-type T,...] [--mode fast|realistic,...] [--runs R]
                          [--peers acme-client,lego,certbot] [--agents A] [--agents-per-thread K] [--peer-jobs J] [--json FILE] [--html FILE] [--all]
       (or, once built: node dist/bench/run.js [flags])
  --domains N,...    certificates per cell, issued in parallel (1..${MAX_DOMAINS}; default ${DEFAULT_DOMAINS.join(',')})
  --key-type T,...   of ${KEY_TYPES.join(', ')} (default ${DEFAULT_KEY_TYPES.join(',')})
  --mode M,...       fast (Pebble PEBBLE_VA_NOSLEEP=1) and/or realistic (PEBBLE_VA_SLEEPTIME=5: Pebble sleeps
                     a random 0-4 whole seconds before each validation); default both
  --runs R           runs per tool and cell (>= 1, default 3); the tools' order rotates between runs
  --peers P,...      compared tools (default all: acme-client in this process; lego and certbot when on PATH)
  --agents A         leec's maxConcurrentAgents (default: the library default)
  --agents-per-thread K  leec's agentsPerThread: agents sharing one worker thread (default: the library
                     default, the agents spread over one thread per core; 1: a thread per agent)
  --peer-jobs J      lego/certbot processes at once, one certificate each (default: the same as --agents)
  --json FILE        the JSON document (default bench/results/<timestamp>.json)
  --html FILE        the HTML report (default: the JSON path with .html)
  --all              keep what the default matrix leaves out: the heavy cells (200 x rsa4096) and
                     lego/certbot above 50 domains (naming both --domains and --key-type does too)`;

/** A flag error: the message says what is wrong; the caller prints it with USAGE and exits 2. */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

function wholeNumber(flag: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw)) throw new BenchUsageError(`--${flag} must be a whole number, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw new BenchUsageError(`--${flag} must be ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}..${max}`}, got ${n}`);
  return n;
}

/**
 * Splits a comma list (`"10, 50,10"`), checks every item with `item` and drops repeats, keeping the
 * first order. An empty list or an empty item is an error.
 */
export function parseList<T>(flag: string, raw: string, item: (s: string) => T): T[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.some((p) => p === '')) throw new BenchUsageError(`--${flag} has an empty item: ${JSON.stringify(raw)}`);
  const out: T[] = [];
  for (const p of parts) {
    const v = item(p);
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

function oneOf<T extends string>(flag: string, allowed: readonly T[]): (s: string) => T {
  return (s) => {
    if (!(allowed as readonly string[]).includes(s)) throw new BenchUsageError(`--${flag} must be among ${allowed.join(', ')}, got ${JSON.stringify(s)}`);
    return s as T;
  };
}

/** Parses and checks `argv` (without node and script). `help: true` when --help was given. */
export function parseBenchArgs(argv: string[]): BenchArgs | { help: true } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        domains: { type: 'string' },
        'key-type': { type: 'string' },
        mode: { type: 'string' },
        runs: { type: 'string' },
        peers: { type: 'string' },
        json: { type: 'string' },
        html: { type: 'string' },
        agents: { type: 'string' },
        'agents-per-thread': { type: 'string' },
        'peer-jobs': { type: 'string' },
        all: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new BenchUsageError(e instanceof Error ? e.message : String(e));
  }
  if (values['help'] === true) return { help: true };
  const str = (k: string): string | undefined => {
    const v = values[k];
    return typeof v === 'string' ? v : undefined;
  };
  const domainsRaw = str('domains');
  const keyRaw = str('key-type');
  const domains = domainsRaw === undefined ? [...DEFAULT_DOMAINS] : parseList('domains', domainsRaw, (s) => wholeNumber('domains', s, 1, MAX_DOMAINS)).sort((a, b) => a - b);
  const keyTypes =
    keyRaw === undefined
      ? [...DEFAULT_KEY_TYPES]
      : parseList('key-type', keyRaw, (s) => {
          if (!isKeyType(s)) throw new BenchUsageError(`--key-type must be among ${KEY_TYPES.join(', ')}, got ${JSON.stringify(s)}`);
          return s;
        });
  const modeRaw = str('mode');
  const modes = modeRaw === undefined ? [...MODES] : parseList('mode', modeRaw, oneOf('mode', MODES));
  const peersRaw = str('peers');
  const peers = peersRaw === undefined ? [...PEERS] : parseList('peers', peersRaw, oneOf('peers', PEERS));
  const runsRaw = str('runs');
  const runs = runsRaw === undefined ? 3 : wholeNumber('runs', runsRaw, 1, Number.MAX_SAFE_INTEGER);
  for (const flag of ['json', 'html']) {
    if (str(flag) === '') throw new BenchUsageError(`--${flag} needs a file name`);
  }
  const agentsRaw = str('agents');
  const agents = agentsRaw === undefined ? fillOptions({ directoryUrl: 'https://ca.invalid/', storeDir: '.' }).maxConcurrentAgents : wholeNumber('agents', agentsRaw, 1, MAX_DOMAINS);
  const perThreadRaw = str('agents-per-thread');
  const agentsPerThread =
    perThreadRaw === undefined
      ? fillOptions({ directoryUrl: 'https://ca.invalid/', storeDir: '.', maxConcurrentAgents: agents }).agentsPerThread
      : wholeNumber('agents-per-thread', perThreadRaw, 1, MAX_DOMAINS);
  const jobsRaw = str('peer-jobs');
  const peerJobs = jobsRaw === undefined ? agents : wholeNumber('peer-jobs', jobsRaw, 1, MAX_DOMAINS);
  return {
    domains,
    keyTypes,
    modes,
    runs,
    peers,
    json: str('json'),
    html: str('html'),
    agents,
    agentsPerThread,
    peerJobs,
    keepHeavy: values['all'] === true || (domainsRaw !== undefined && keyRaw !== undefined),
  };
}
