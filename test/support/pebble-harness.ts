/**
 * Test harness: a Pebble on free loopback ports whose http-01 validator points at a port reserved for
 * the supervisor under test, a temp store, and helpers to verify what was issued against Pebble's root.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/net/free-port.js';
import { startPebble, type PebbleInstance } from '../../src/pebble/pebble-server.js';
import { Supervisor } from '../../src/supervisor.js';
import type { SupervisorOptions } from '../../src/options.js';

export interface Harness {
  pebble: PebbleInstance;
  httpPort: number;
  storeDir: string;
  rootPem: string;
  /**
   * A supervisor on this Pebble with the standalone responder on `httpPort`, and a store of its own
   * (one supervisor per store) under `storeDir` unless `opts.storeDir` says otherwise.
   */
  supervisor(opts?: Partial<SupervisorOptions>): Promise<Supervisor>;
  close(): Promise<void>;
}

export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const httpPort = await freePort();
  const pebble = await startPebble({ httpPort, env });
  const storeDir = mkdtempSync(join(tmpdir(), 'leec-test-store-'));
  const rootPem = await pebble.fetchRootPem();
  const supervisors: Supervisor[] = [];
  return {
    pebble,
    httpPort,
    storeDir,
    rootPem,
    async supervisor(opts = {}) {
      const s = await Supervisor.start({
        directoryUrl: pebble.directoryUrl,
        caBundle: pebble.caPem,
        storeDir: join(storeDir, `supervisor-${supervisors.length + 1}`),
        keyType: 'ec256',
        http01: { mode: 'standalone', port: httpPort },
        ...opts,
      });
      supervisors.push(s);
      return s;
    },
    async close() {
      await Promise.all(supervisors.map((s) => s.shutdown()));
      await pebble.stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/** `openssl verify` of a leaf against a root, with the chain as untrusted intermediates. */
export function opensslVerify(rootPem: string, chainPem: string, leafPem: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'leec-verify-'));
  try {
    writeFileSync(join(dir, 'root.pem'), rootPem);
    writeFileSync(join(dir, 'chain.pem'), chainPem);
    writeFileSync(join(dir, 'leaf.pem'), leafPem);
    return execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'chain.pem'), join(dir, 'leaf.pem')], {
      encoding: 'utf8',
    }).trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The DNS and IP names in a certificate's subjectAltName. */
export function sanNames(pem: string): string[] {
  const san = new X509Certificate(pem).subjectAltName ?? '';
  return san
    .split(', ')
    .filter(Boolean)
    .map((s) => s.replace(/^(DNS|IP Address):/, ''));
}
