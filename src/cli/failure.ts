/**
 * How a failed command is reported: ONE line on stderr, `leec: <CODE>: <message>`, with the stable
 * LeecError code (ERR_INTERNAL for anything else), and the process exit code that goes with it.
 */
import { ErrorCode, LeecError } from '../errors.js';
import { firstLine } from './format.js';

/** Exit status of a run that failed (ACME, network, store, a name that did not verify...). */
export const EXIT_FAILURE = 1;
/** Exit status of bad usage or input, found before any network request. */
export const EXIT_USAGE = 2;

/** The stable code of any thrown value: a LeecError's `code`, else `ERR_INTERNAL`. */
export function codeOf(err: unknown): string {
  return err instanceof LeecError ? err.code : ErrorCode.internal;
}

/** The one-line report of `err`: `leec: <CODE>: <first line of the message>`. */
export function failureLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `leec: ${codeOf(err)}: ${firstLine(message) || 'unknown error'}`;
}

/**
 * The exit code for `err`: its own `exitCode` when it carries one (an interrupt), 2 for bad input
 * (codes starting `ERR_INVALID`, a wildcard without dns-01, Pebble missing for the demo), else 1.
 */
export function exitCodeOf(err: unknown): number {
  const own = (err as { exitCode?: unknown } | null)?.exitCode;
  if (err instanceof LeecError && typeof own === 'number') return own;
  const code = codeOf(err);
  if (code.startsWith('ERR_INVALID') || code === ErrorCode.wildcardNeedsDns01 || code === 'ERR_PEBBLE_MISSING') return EXIT_USAGE;
  return EXIT_FAILURE;
}
