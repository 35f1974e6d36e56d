/**
 * Run before the test files: makes sure Pebble and BIND (`named`, with `dig` and `nsupdate`) are
 * installed (apt, when root), so `npm test` on a fresh Debian/Ubuntu machine needs no other set-up step.
 * Prints what it does; exits 2 with the install command when it cannot install.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { ensurePebble } from '../../src/pebble/install.js';
import { findNamed } from './bind-server.js';

const BIND_PACKAGES = ['bind9', 'bind9-dnsutils'];

function bindInstalled(): boolean {
  if (findNamed() === null) return false;
  try {
    accessSync('/usr/bin/dig', constants.X_OK);
    accessSync('/usr/bin/nsupdate', constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function aptGet(args: string[]): number {
  process.stdout.write(`bind: $ apt-get ${args.join(' ')}\n`);
  const r = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return r.status ?? -1;
}

/** BIND for the dns-01 tests: installed with apt-get when missing and root, else exit 2 with the command. */
function ensureBind(): void {
  if (bindInstalled()) {
    process.stdout.write(`bind: using ${findNamed()}\n`);
    return;
  }
  const hint = `run \`sudo apt-get install -y ${BIND_PACKAGES.join(' ')}\``;
  if (process.getuid?.() !== 0) {
    process.stderr.write(`BIND is not installed (named, dig, nsupdate) and installing it needs root: ${hint}\n`);
    process.exit(2);
  }
  process.stdout.write(`bind: BIND is not installed: installing ${BIND_PACKAGES.join(' ')} with apt-get\n`);
  if (aptGet(['install', '-y', ...BIND_PACKAGES]) !== 0) {
    process.stdout.write('bind: apt-get install failed: running `apt-get update` and retrying\n');
    aptGet(['update']);
    aptGet(['install', '-y', ...BIND_PACKAGES]);
  }
  if (!bindInstalled()) {
    process.stderr.write(`Installing BIND with apt-get failed: ${hint}\n`);
    process.exit(2);
  }
  process.stdout.write(`bind: installed ${findNamed()}\n`);
}

try {
  const bins = await ensurePebble({ allowInstall: true, log: (line) => process.stdout.write(`pebble: ${line}\n`) });
  process.stdout.write(`pebble: using ${bins.pebble} and ${bins.challtestsrv}\n`);
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
}
ensureBind();
