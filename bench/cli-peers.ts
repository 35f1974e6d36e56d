/**
 * How lego and certbot are run: one process per certificate, as their users run them, with http-01
 * through a webroot that the bench's shared responder serves (a standalone server per process would
 * need one port each, but Pebble validates on one port). Pebble's CA is trusted through each tool's
 * own setting (LEGO_CA_CERTIFICATES, REQUESTS_CA_BUNDLE), never by turning verification off. Each process
 * has its own directories: its own account, as a fresh install makes (lego's --path, certbot's
 * --config-dir/--work-dir/--logs-dir, which certbot also locks). Pure: argument lists only.
 */
import path from 'node:path';
import type { KeyType } from '../src/crypto/key-type.js';

export type CliPeerName = 'lego' | 'certbot';

export interface PeerJob {
  directoryUrl: string;
  /** Pebble's HTTPS CA, in a file. */
  caFile: string;
  name: string;
  keyType: KeyType;
  /** Shared by all processes of a run; served by the responder. */
  webroot: string;
  /** This process's own directory. */
  dir: string;
}

export interface CliPeer {
  name: CliPeerName;
  /** Program name looked up on PATH (command -v). */
  program: string;
  versionArgs: string[];
  command(job: PeerJob): { args: string[]; env: Record<string, string> };
  /** The issued certificate (leaf first) once the process exited 0. */
  certificateFile(job: PeerJob): string;
}

export const LEGO: CliPeer = {
  name: 'lego',
  program: 'lego',
  versionArgs: ['--version'],
  command: (j) => ({
    // lego 4.x: global flags, then the command. Its key type names are leec's (ec256, rsa2048, ...).
    args: ['--server', j.directoryUrl, '--accept-tos', '--email', 'bench@leec-bench.test', '--domains', j.name, '--key-type', j.keyType,
      '--http', '--http.webroot', j.webroot, '--path', j.dir, 'run'],
    env: { LEGO_CA_CERTIFICATES: j.caFile },
  }),
  certificateFile: (j) => path.join(j.dir, 'certificates', `${j.name}.crt`),
};

function certbotKeyFlags(t: KeyType): string[] {
  switch (t) {
    case 'ec256':
      return ['--key-type', 'ecdsa', '--elliptic-curve', 'secp256r1'];
    case 'ec384':
      return ['--key-type', 'ecdsa', '--elliptic-curve', 'secp384r1'];
    case 'rsa2048':
    case 'rsa3072':
    case 'rsa4096':
      return ['--key-type', 'rsa', '--rsa-key-size', t.slice(3)];
  }
}

export const CERTBOT: CliPeer = {
  name: 'certbot',
  program: 'certbot',
  versionArgs: ['--version'],
  command: (j) => ({
    args: ['certonly', '--non-interactive', '--agree-tos', '--register-unsafely-without-email', '--server', j.directoryUrl,
      '--webroot', '-w', j.webroot, '-d', j.name, ...certbotKeyFlags(j.keyType),
      '--config-dir', path.join(j.dir, 'config'), '--work-dir', path.join(j.dir, 'work'), '--logs-dir', path.join(j.dir, 'logs')],
    env: { REQUESTS_CA_BUNDLE: j.caFile },
  }),
  certificateFile: (j) => path.join(j.dir, 'config', 'live', j.name, 'fullchain.pem'),
};

export const CLI_PEERS: Record<CliPeerName, CliPeer> = { lego: LEGO, certbot: CERTBOT };

/** The first dotted version number in a `--version` output (`lego version 4.9.1 linux/amd64` → 4.9.1). */
export function parseVersion(output: string): string {
  return /\d+\.\d+(?:\.\d+)?/.exec(output)?.[0] ?? 'unknown';
}
