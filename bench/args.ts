/**
 * Command-line flags of `npm run bench`: parsed with node:util parseArgs and checked before anything
 * is started (no Pebble, no port, no thread), so a typo costs nothing. Throws BenchUsageError.
 */
import { parseArgs } from 'node:util';
import { KEY_TYPES, isKeyType, type KeyType } from '../src/crypto/key-type.js';
import { fillOptions } from '../src/options.js';

export type BenchMode = 'fast' | 'realistic';

export interface BenchArgs {
  domains: number;
  keyType: KeyType;
  runs: number;
  /** Where the JSON records go; undefined means bench/results/<timestamp>.json. */
  json: string | undefined;
  mode: BenchMode;
  /** leec's maxConcurrentAgents (worker threads at once); default: the library's default. */
  agents: number;
}

export const MAX_DOMAINS = 500;

export const USAGE = `usage: npm run bench -- --domains N --key-type T [--runs R] [--json FILE] [--mode fast|realistic]
  --domains N     certificates per cell, issued in parallel (1..${MAX_DOMAINS})
  --key-type T    one of ${KEY_TYPES.join(', ')}
  --runs R        runs per tool (>= 1, default 3); tools alternate leec, acme-client, acme-client, leec, ...
  --json FILE     write the JSON records here (default bench/results/<timestamp>.json)
  --mode M        fast (Pebble PEBBLE_VA_NOSLEEP=1, default) or realistic (random VA sleep up to 5 s)
  --agents A      leec's maxConcurrentAgents: agent threads at once (default 8, the library default;
                  pass the same as --domains for one thread per certificate)`;

/** A flag error: the message says what is wrong; the caller prints it with USAGE and exits 2. */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

function wholeNumber(flag: string, raw: string | undefined, dflt: number | undefined, min: number, max: number): number {
  if (raw === undefined) {
    if (dflt === undefined) throw new BenchUsageError(`--${flag} is required`);
    return dflt;
  }
  if (!/^\d+$/.test(raw)) throw new BenchUsageError(`--${flag} must be a whole number, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw new BenchUsageError(`--${flag} must be ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `${min}..${max}`}, got ${n}`);
  return n;
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
        runs: { type: 'string' },
        json: { type: 'string' },
        mode: { type: 'string' },
        agents: { type: 'string' },
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
  const domains = wholeNumber('domains', str('domains'), undefined, 1, MAX_DOMAINS);
  const keyTypeRaw = str('key-type');
  if (keyTypeRaw === undefined) throw new BenchUsageError('--key-type is required');
  if (!isKeyType(keyTypeRaw)) throw new BenchUsageError(`--key-type must be one of ${KEY_TYPES.join(', ')}, got ${JSON.stringify(keyTypeRaw)}`);
  const runs = wholeNumber('runs', str('runs'), 3, 1, Number.MAX_SAFE_INTEGER);
  const modeRaw = str('mode') ?? 'fast';
  if (modeRaw !== 'fast' && modeRaw !== 'realistic') throw new BenchUsageError(`--mode must be fast or realistic, got ${JSON.stringify(modeRaw)}`);
  const json = str('json');
  if (json === '') throw new BenchUsageError('--json needs a file name');
  const agents = wholeNumber('agents', str('agents'), fillOptions({ directoryUrl: 'https://ca.invalid/', storeDir: '.' }).maxConcurrentAgents, 1, MAX_DOMAINS);
  return { domains, keyType: keyTypeRaw, runs, json, mode: modeRaw, agents };
}
