/**
 * Where a CLI command writes: its stdout and stderr streams and a line writer for each. Commands take
 * a CliIo instead of touching `process` so that what they print is decided in one place (main.ts).
 */

/** The output streams of one CLI run. */
export interface CliIo {
  /** The stream for results and progress; its `isTTY` chooses the progress view. */
  readonly stdout: NodeJS.WriteStream;
  /** The stream for the one-line failure report and warnings. */
  readonly stderr: NodeJS.WriteStream;
  /** Writes `line` and a newline to stdout. */
  out(line?: string): void;
  /** Writes `line` and a newline to stderr. */
  err(line: string): void;
}

/** The CliIo of this process (process.stdout / process.stderr). */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    out: (line = '') => void process.stdout.write(`${line}\n`),
    err: (line) => void process.stderr.write(`${line}\n`),
  };
}
