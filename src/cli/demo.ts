/**
 * `leec demo`: a local, self-contained run of the whole system. It starts Pebble (a test ACME CA),
 * a Supervisor, issues N certificates in parallel with live progress, serves all of them from ONE
 * HTTPS server through SNI and proves each name with a real TLS handshake trusting only Pebble's root.
 */
import { treeLines } from './tree-view.js';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CertificateResult } from '../certificate-result.js';
import type { KeyType } from '../crypto/key-type.js';
import { ErrorCode, InvalidInputError } from '../errors.js';
import { freePort } from '../net/free-port.js';
import { checkKeyType } from '../options.js';
import { ensurePebble } from '../pebble/install.js';
import { startPebble } from '../pebble/pebble-server.js';
import { Supervisor } from '../supervisor.js';
import { demoDomains, MAX_DEMO_DOMAINS, probeName, WILDCARD_DEMO, type DemoDomain } from './demo-domains.js';
import { EXIT_FAILURE, codeOf } from './failure.js';
import { firstLine, isoDate, seconds } from './format.js';
import { verifyNames, type NameCheck } from './handshake.js';
import type { CliIo } from './io.js';
import { createProgressView } from './progress-view.js';
import { RunScope } from './run-scope.js';
import { startSiteServer } from './site-server.js';
import { renderTable } from './table.js';

/** The demo's default key type: EC P-256, fast to generate (the library's own default is rsa4096). */
export const DEMO_KEY_TYPE: KeyType = 'ec256';
/** The demo's default number of domains. */
export const DEMO_DOMAINS = 8;
/** The demo's default output directory. */
export const DEMO_OUT = './demo-out';

/** The options as commander hands them over (strings, unchecked). */
export interface RawDemoOptions {
  domains?: string;
  out?: string;
  keyType?: string;
}

/** Checked demo options. */
export interface DemoOptions {
  domains: number;
  /** Absolute output directory. */
  out: string;
  keyType: KeyType;
}

/** Checks the demo's options. @throws InvalidInputError (ERR_INVALID_OPTION, ERR_INVALID_KEY_TYPE). */
export function parseDemoOptions(raw: RawDemoOptions): DemoOptions {
  const n = raw.domains === undefined ? DEMO_DOMAINS : Number(raw.domains);
  if (!/^\d+$/.test(raw.domains ?? String(DEMO_DOMAINS)) || n < 1 || n > MAX_DEMO_DOMAINS) {
    throw new InvalidInputError(ErrorCode.invalidOption, `--domains must be a whole number from 1 to ${MAX_DEMO_DOMAINS}, got ${JSON.stringify(raw.domains)}`, {
      step: 'input',
      data: { domains: raw.domains },
    });
  }
  const out = raw.out ?? DEMO_OUT;
  if (out.trim() === '') throw new InvalidInputError(ErrorCode.invalidOption, '--out must be a directory path', { step: 'input' });
  return { domains: n, out: path.resolve(out), keyType: checkKeyType(raw.keyType ?? DEMO_KEY_TYPE) };
}

interface Outcome {
  demo: DemoDomain;
  names: string[];
  result: CertificateResult | undefined;
  error: unknown;
}

/**
 * Runs the demo and returns the exit code: 0 only when every certificate was issued and every name
 * verified, else 1. Everything it starts is stopped before it returns, also on failure and SIGINT.
 * @throws LeecError ERR_PEBBLE_MISSING (exit 2) when Pebble is absent and cannot be installed here.
 */
export async function runDemo(opts: DemoOptions, io: CliIo): Promise<number> {
  const t0 = Date.now();
  const scope = new RunScope({ warn: io.err, onSignal: (s) => io.err(`leec: ${s}: stopping everything the demo started (again to force)`) });
  return scope.run(async () => {
    const domains = [...demoDomains(opts.domains), WILDCARD_DEMO];
    const nameCount = domains.reduce((n, d) => n + 1 + d.sans.length, 0);
    io.out(`leec demo: ${domains.length} certificates (${nameCount} names), key type ${opts.keyType}, output ${opts.out}`);
    await mkdir(opts.out, { recursive: true });

    await ensurePebble({ allowInstall: true, log: (line) => io.out(`  ${line}`) });
    scope.check();
    const httpPort = await freePort();
    const tPebble = Date.now();
    const pebble = await startPebble({ httpPort });
    scope.defer('pebble', () => pebble.stop());
    scope.check();
    io.out(`pebble      ${pebble.directoryUrl} (started in ${seconds(Date.now() - tPebble)}s, pids ${pebble.pids.join(', ')})`);

    const storeDir = path.join(opts.out, 'store');
    const sup = await Supervisor.start({
      directoryUrl: pebble.directoryUrl,
      caBundle: pebble.caPem,
      storeDir,
      keyType: opts.keyType,
      http01: { mode: 'standalone', port: httpPort },
      // The wildcard's TXT values go to challtestsrv, Pebble's DNS server, and are checked there.
      dns01: {
        provider: { name: 'challtestsrv', options: { url: pebble.challtestsrvUrl } },
        propagation: { servers: [pebble.dnsAddress], timeoutMs: 30_000, intervalMs: 100 },
      },
    });
    scope.defer('supervisor', () => sup.shutdown());
    scope.check();
    io.out(`supervisor  http-01 responder on 127.0.0.1:${sup.http01Port ?? httpPort}, dns-01 through challtestsrv, account ${sup.accountUrl ?? '(throwaway)'}`);
    io.out('');

    const tIssue = Date.now();
    const view = createProgressView(
      domains.map((d) => d.domain),
      { stream: io.stdout, startedAt: tIssue },
    );
    scope.defer('progress view', () => view.stop());
    sup.on('state', (e) => view.state(e.domain, e.state));
    sup.on('agent:restart', (e) => view.restarted(e.domain, e.incarnation, e.error.code));
    sup.on('failure', (e) => view.failed(e.domain, e.error.code, e.error.message));
    const obtaining = Promise.allSettled(domains.map((d) => sup.obtainCertificate(d.domain, d.challenge ? { sans: d.sans, challenge: d.challenge } : { sans: d.sans })));
    // The supervision tree while the agents run (root → domains → one supervisor per domain → its
    // agent), taken 300 ms in and printed after the progress view, which owns the terminal until then.
    await new Promise((r) => setTimeout(r, 300).unref());
    const treeSnapshot = treeLines(sup.tree());
    const settled = await obtaining;
    view.stop();
    scope.check();
    const outcomes: Outcome[] = domains.map((demo, i) => {
      const s = settled[i];
      const names = [demo.domain, ...demo.sans];
      return s?.status === 'fulfilled' ? { demo, names, result: s.value, error: undefined } : { demo, names, result: undefined, error: s?.reason };
    });
    const issued = outcomes.filter((o) => o.result !== undefined).length;
    io.out('');
    io.out(`issued ${issued}/${domains.length} certificates in ${seconds(Date.now() - tIssue)}s`);
    io.out('supervision tree, 0.3 s into issuing:');
    for (const line of treeSnapshot) io.out(`  ${line}`);

    const rootPem = await pebble.fetchRootPem();
    const rootFile = path.join(opts.out, 'pebble-root.pem');
    await writeFile(rootFile, rootPem);
    const site = await startSiteServer(sup.certificates.sniCallback);
    scope.defer('https server', () => site.close());
    scope.check();
    io.out(`serving all of them from one HTTPS server on https://${site.host}:${site.port} (SNI)`);
    io.out(`verifying each name: TLS handshake with SNI, trusting only ${rootFile}, then GET /`);

    const toCheck = outcomes.filter((o) => o.result !== undefined).flatMap((o) => (o.result?.names ?? []).map(probeName));
    const width = Math.max(0, ...toCheck.map((n) => n.length));
    const checks = await verifyNames(toCheck, { host: site.host, port: site.port, ca: rootPem }, {
      onResult: (c) => io.out(checkLine(c, width)),
    });
    scope.check();
    const byName = new Map(checks.map((c) => [c.name, c]));

    io.out('');
    for (const line of resultTable(outcomes, byName, opts.keyType)) io.out(line);
    const failures = outcomes.filter((o) => o.result === undefined);
    if (failures.length > 0) {
      io.out('');
      io.out('failed:');
      for (const f of failures) io.out(`  ${f.demo.domain}: ${shortError(f.error)}`);
    }
    const verified = checks.filter((c) => c.ok).length;
    io.out('');
    io.out(`${issued}/${domains.length} certificates, ${verified}/${nameCount} names verified in ${seconds(Date.now() - t0, 1)}s`);
    io.out(`certificates and keys: ${path.join(storeDir, 'certificates')}/<domain>/ (fullchain.pem, privkey.pem, cert.pem, chain.pem)`);
    io.out(`pebble root (new at every Pebble start): ${rootFile}`);
    return issued === domains.length && verified === nameCount ? 0 : EXIT_FAILURE;
  });
}

function checkLine(c: NameCheck, width: number): string {
  if (!c.ok) return `  FAILED    ${c.name.padEnd(width)}  ${c.error}`;
  return `  verified  ${c.name.padEnd(width)}  ${c.protocol ?? ''} serial ${c.serialNumber ?? '?'}  200 ${JSON.stringify(c.body)}`;
}

function resultTable(outcomes: readonly Outcome[], byName: ReadonlyMap<string, NameCheck>, keyType: string): string[] {
  const rows = outcomes.map((o) => {
    const r = o.result;
    if (r === undefined) return [o.demo.domain, o.names.join(', '), keyType, '-', '-', `no (${codeOf(o.error)})`];
    const ok = r.names.filter((n) => byName.get(probeName(n))?.ok === true).length;
    return [
      r.domain,
      r.names.join(', '),
      r.keyType,
      `${seconds(r.elapsedMs)}s`,
      isoDate(r.notAfter),
      ok === r.names.length ? 'yes' : `no (${ok}/${r.names.length})`,
    ];
  });
  return renderTable(
    [
      { header: 'DOMAIN' },
      { header: 'NAMES' },
      { header: 'KEY' },
      { header: 'TIME', align: 'right' },
      { header: 'NOT AFTER' },
      { header: 'VERIFIED' },
    ],
    rows,
  );
}

function shortError(err: unknown): string {
  return `${codeOf(err)}: ${firstLine(err instanceof Error ? err.message : String(err))}`;
}
