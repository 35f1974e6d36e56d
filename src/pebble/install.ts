/**
 * Finds the Pebble binaries (`pebble`, `pebble-challtestsrv`) and, only when allowed and running as
 * root, installs the Debian `pebble` package with apt-get. It never uses sudo itself and never
 * downloads anything outside the system package manager.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { LeecError } from '../errors.js';

/** Absolute paths of the two Pebble binaries. */
export interface PebbleBinaries {
  pebble: string;
  challtestsrv: string;
}

const INSTALL_HINT = 'run `sudo apt-get install -y pebble`';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function which(name: string): string | null {
  const dirs = ['/usr/bin', ...(process.env['PATH'] ?? '').split(path.delimiter).filter((d) => d !== '')];
  for (const dir of dirs) {
    const file = path.join(dir, name);
    if (isExecutable(file)) return path.resolve(file);
  }
  return null;
}

/**
 * Looks for `pebble` and `pebble-challtestsrv` in /usr/bin, then in PATH.
 * @returns both paths, or null when either one is missing.
 */
export function findPebbleBinaries(): PebbleBinaries | null {
  const pebble = which('pebble');
  const challtestsrv = which('pebble-challtestsrv');
  return pebble !== null && challtestsrv !== null ? { pebble, challtestsrv } : null;
}

function runLogged(cmd: string, args: string[], log: (line: string) => void): Promise<number> {
  return new Promise((resolve) => {
    log(`$ ${cmd} ${args.join(' ')}`);
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    const pipeLines = (stream: NodeJS.ReadableStream): void => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          log(buf.slice(0, i).replace(/\r$/, ''));
          buf = buf.slice(i + 1);
        }
      });
      stream.on('end', () => {
        if (buf !== '') log(buf);
      });
    };
    if (child.stdout) pipeLines(child.stdout);
    if (child.stderr) pipeLines(child.stderr);
    child.once('error', (err) => {
      log(`${cmd}: ${err.message}`);
      resolve(-1);
    });
    child.once('close', (code) => resolve(code ?? -1));
  });
}

/**
 * Returns the Pebble binaries, installing the Debian `pebble` package first when they are missing,
 * `allowInstall` is true and the process runs as root (`apt-get install -y pebble`, then
 * `apt-get update` and one retry on failure). apt-get output goes only to `log`.
 * @throws LeecError `ERR_PEBBLE_MISSING` when Pebble is missing and cannot be installed here.
 */
export async function ensurePebble(opts: { allowInstall: boolean; log?: (line: string) => void }): Promise<PebbleBinaries> {
  const found = findPebbleBinaries();
  if (found !== null) return found;
  const log = opts.log ?? (() => {});
  const isRoot = process.getuid?.() === 0;
  if (!opts.allowInstall || !isRoot) {
    const why = !opts.allowInstall ? '' : ' (installing it needs root)';
    throw new LeecError(
      'ERR_PEBBLE_MISSING',
      `Pebble is not installed (pebble and pebble-challtestsrv were not found in /usr/bin or PATH)${why}: ${INSTALL_HINT}`,
    );
  }
  log('Pebble is not installed: installing the Debian package with `apt-get install -y pebble`');
  let code = await runLogged('apt-get', ['install', '-y', 'pebble'], log);
  if (code !== 0) {
    log('apt-get install failed: running `apt-get update` and retrying');
    await runLogged('apt-get', ['update'], log);
    code = await runLogged('apt-get', ['install', '-y', 'pebble'], log);
  }
  const after = findPebbleBinaries();
  if (code !== 0 || after === null) {
    throw new LeecError(
      'ERR_PEBBLE_MISSING',
      `Installing Pebble with apt-get failed (exit code ${code}): ${INSTALL_HINT}`,
      { data: { exitCode: code } },
    );
  }
  log(`Pebble installed: ${after.pebble}, ${after.challtestsrv}`);
  return after;
}
