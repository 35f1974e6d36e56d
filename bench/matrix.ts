/**
 * The benchmark matrix: mode x key type x domains, in the order it runs (one Pebble per mode, so modes
 * are outermost). Heavy cells, where key generation alone takes minutes per tool and run on a small
 * machine, are left out of the default matrix and listed, so `npm run bench` stays well under an hour on
 * 2 cores; naming both --domains and --key-type (or --all) keeps them.
 */
import type { KeyType } from '../src/crypto/key-type.js';
import type { BenchArgs, BenchMode } from './args.js';

export interface Cell {
  mode: BenchMode;
  keyType: KeyType;
  domains: number;
}

/**
 * Rough CPU seconds to generate one key of each type with node:crypto on one core of a slow 2-core
 * machine (measured: rsa4096 about 1.4 s, rsa2048 about 0.25 s, EC under 1 ms). Only used to decide
 * what is heavy and to print an estimate, never in a result.
 */
export const KEYGEN_CPU_SECONDS: Record<KeyType, number> = {
  ec256: 0.001,
  ec384: 0.002,
  rsa2048: 0.25,
  rsa3072: 0.7,
  rsa4096: 1.4,
};

/** A cell whose keys alone cost more than this many CPU seconds is heavy (200 x rsa4096 is 280 s). */
export const HEAVY_KEYGEN_CPU_SECONDS = 120;

export function isHeavy(cell: Cell): boolean {
  return cell.domains * KEYGEN_CPU_SECONDS[cell.keyType] > HEAVY_KEYGEN_CPU_SECONDS;
}

export function cellLabel(cell: Cell): string {
  return `${cell.domains} x ${cell.keyType} ${cell.mode}`;
}

/** The cells to run, in order, and the heavy ones left out (empty when args.keepHeavy). */
export function expandMatrix(args: Pick<BenchArgs, 'modes' | 'keyTypes' | 'domains' | 'keepHeavy'>): { cells: Cell[]; leftOut: Cell[] } {
  const cells: Cell[] = [];
  const leftOut: Cell[] = [];
  for (const mode of args.modes) {
    for (const keyType of args.keyTypes) {
      for (const domains of args.domains) {
        const cell = { mode, keyType, domains };
        (isHeavy(cell) && !args.keepHeavy ? leftOut : cells).push(cell);
      }
    }
  }
  return { cells, leftOut };
}

/**
 * A rough duration of the matrix, seconds, for the start-up line only: per tool run, its keys on every
 * core (KEYGEN_CPU_SECONDS), about 1 s of protocol and set-up, and in realistic mode Pebble's VA sleep
 * (up to 5 s; the slowest of N decides).
 */
export function estimateSeconds(cells: readonly Cell[], runs: number, toolsPerCell: number, cpus: number): number {
  let total = 0;
  for (const c of cells) {
    const perTool = (c.domains * KEYGEN_CPU_SECONDS[c.keyType]) / Math.max(1, cpus) + 1 + (c.mode === 'realistic' ? 5 : 0);
    total += perTool * toolsPerCell * runs;
  }
  return total;
}

/**
 * How long one tool's run of a cell may take before the bench gives up on it: ten times its estimate, and
 * at least 3 minutes. Pebble 2.4 has been seen to stop answering every request after some thousands of
 * orders under this load (its sockets open and idle); a run then fails with this said, instead of
 * waiting forever.
 */
export function runDeadlineSeconds(cell: Cell, cpus: number): number {
  return Math.max(180, 10 * estimateSeconds([cell], 1, 1, cpus));
}

/**
 * lego and certbot start one process per certificate (certbot: a Python start-up each, about a CPU
 * second): above this many domains they are left out of the default matrix, like the heavy cells.
 */
export const CLI_PEER_DEFAULT_MAX_DOMAINS = 50;

export function cliPeerLeftOut(cell: Cell, keepHeavy: boolean): boolean {
  return !keepHeavy && cell.domains > CLI_PEER_DEFAULT_MAX_DOMAINS;
}
