/**
 * How a failed command is reported: ONE line on stderr, `leec: <CODE>: <message>`, with the stable
 * LeecError code (ERR_INTERNAL for anything else), and the process exit code that goes with it.
 */
import { ErrorCode, LeecError } from '../errors.js';
import { shortProblemType } from '../acme/problem.js';
import { firstLine } from './format.js';

/** Exit status of a run that failed (ACME, network, store, a name that did not verify...). */
export const EXIT_FAILURE = 1;
/** Exit status of bad usage or input, found before any network request. */
export const EXIT_USAGE = 2;

/** The stable code of any thrown value: a LeecError's `code`, else `ERR_INTERNAL`. */
export function codeOf(err: unknown): string {
  return err instanceof LeecError ? err.code : ErrorCode.internal;
}

/** The one-line report of `err`: `leec: <CODE>: <first line of the message>`, and what to do when that is known. */
export function failureLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const hint = hintFor(err);
  return `leec: ${codeOf(err)}: ${firstLine(message) || 'unknown error'}${hint === undefined ? '' : ` (${hint})`}`;
}

/** The next step for the account problems a store cannot get out of by itself. */
function hintFor(err: unknown): string | undefined {
  const problem = err instanceof LeecError ? err.problem : undefined;
  if (problem === undefined) return undefined;
  const type = shortProblemType(problem.type);
  if (type === 'externalAccountRequired') return 'this CA needs External Account Binding: run `leec account register --agree-tos --eab-kid KID --eab-hmac-key KEY` first';
  if (type === 'unauthorized' && /deactivated/i.test(problem.detail ?? '')) {
    return "the store's account is deactivated (RFC 8555 §7.3.6): move its account.key aside, or use another --out, and run `leec account register`";
  }
  return undefined;
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
