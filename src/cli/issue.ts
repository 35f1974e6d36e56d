/**
 * `leec issue`: obtain (or reuse) one certificate from any ACME CA and store it. Every option is
 * checked, and the CA bundle file read, before the first network request; the run then starts a
 * Supervisor, obtains the certificate and prints where the files are.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { isIP } from 'node:net';
import type { CertificateResult } from '../certificate-result.js';
import { describeCertificate } from '../crypto/certificate.js';
import { DEFAULT_KEY_TYPE, type KeyType } from '../crypto/key-type.js';
import { reuseFreshCertificate } from '../renewal-window.js';
import { CertStore } from '../store/cert-store.js';
import { normalizeNames } from '../names.js';
import { checkChallenge, checkKeyType, fillOptions, type Http01Mode, type SupervisorOptions } from '../options.js';
import { parseDns01Flags } from './dns-flags.js';
import { Supervisor } from '../supervisor.js';
import { badOption as bad, DEFAULT_STORE_DIR, parseDirectory, parseEmail, parsePort, parseStoreDir, readCaBundle } from './connection-options.js';
import { daysLeft, seconds, stamp } from './format.js';
import type { CliIo } from './io.js';
import { RunScope } from './run-scope.js';

/** Where the store goes unless --out says otherwise. */
export const ISSUE_OUT = DEFAULT_STORE_DIR;
/** The standalone responder's default bind address: every interface, as a real CA connects from outside. */
export const ISSUE_HTTP_HOST = '0.0.0.0';

/** The options as commander hands them over (strings, unchecked). */
export interface RawIssueOptions {
  directory?: string;
  domain?: string;
  san?: string[];
  caBundle?: string;
  httpPort?: string;
  httpHost?: string;
  webroot?: string;
  out?: string;
  keyType?: string;
  email?: string;
  force?: boolean;
  insecureLoopback?: boolean;
  challenge?: string;
  dnsProvider?: string;
  dnsOption?: string[];
  dnsResolver?: string[];
  dnsTimeout?: string;
  tlsPort?: string;
  tlsHost?: string;
  profile?: string;
}

/** Checked issue options, ready for Supervisor.start and obtainCertificate. */
export interface IssueOptions {
  supervisor: SupervisorOptions;
  /** The primary name, normalised. */
  domain: string;
  /** The extra names, normalised, duplicates removed. */
  sans: string[];
  /** Undefined: the supervisor's default (rsa4096). */
  keyType: KeyType | undefined;
  force: boolean;
}

async function checkWebroot(dir: string): Promise<string> {
  const abs = path.resolve(dir);
  const st = await stat(abs).catch(() => undefined);
  if (st === undefined || !st.isDirectory()) bad(`--webroot ${dir} is not an existing directory`, { webroot: dir });
  return abs;
}

/** An address to listen on: an IP literal or `localhost`, so nothing is looked up in DNS. */
function listenAddress(flag: string, host: string): string {
  if (isIP(host) === 0 && host !== 'localhost') bad(`${flag} must be an IP address to listen on (0.0.0.0, ::, 127.0.0.1...), got ${JSON.stringify(host)}`, { [flag]: host });
  return host;
}

/**
 * Checks every option without touching the network (the CA bundle file is read).
 * @throws InvalidInputError ERR_INVALID_DIRECTORY_URL, ERR_INVALID_DOMAIN, ERR_WILDCARD_NEEDS_DNS01,
 *   ERR_INVALID_KEY_TYPE or ERR_INVALID_OPTION.
 */
export async function parseIssueOptions(raw: RawIssueOptions): Promise<IssueOptions> {
  const allowInsecureLoopback = raw.insecureLoopback === true;
  const directoryUrl = parseDirectory(raw.directory, allowInsecureLoopback);
  if (raw.domain === undefined) bad('--domain is required');
  const challenge = raw.challenge === undefined ? 'http-01' : checkChallenge(raw.challenge);
  const names = normalizeNames(raw.domain, raw.san ?? [], { challenge });
  const keyType = raw.keyType === undefined ? undefined : checkKeyType(raw.keyType);

  if (raw.httpPort !== undefined && raw.webroot !== undefined) bad('--http-port and --webroot are mutually exclusive');
  // A flag this order would not use is a mistake in the command line, not something to ignore.
  if (challenge !== 'http-01' && (raw.httpPort !== undefined || raw.webroot !== undefined)) {
    bad(`--http-port and --webroot serve http-01, but this order uses ${challenge}`);
  }
  if (challenge !== 'tls-alpn-01' && raw.tlsPort !== undefined) bad(`--tls-port serves tls-alpn-01, but this order uses ${challenge}`);
  if (raw.httpHost !== undefined && raw.httpPort === undefined) bad('--http-host goes with --http-port');
  if (raw.tlsHost !== undefined && raw.tlsPort === undefined) bad('--tls-host goes with --tls-port');
  let http01: Http01Mode = { mode: 'embedded' };
  if (raw.httpPort !== undefined) {
    const host = listenAddress('--http-host', raw.httpHost ?? ISSUE_HTTP_HOST);
    http01 = { mode: 'standalone', port: parsePort('--http-port', raw.httpPort), host };
  } else if (raw.webroot !== undefined) {
    http01 = { mode: 'webroot', webroot: await checkWebroot(raw.webroot) };
  } else if (challenge === 'http-01') {
    return bad('one of --http-port (serve http-01 here) or --webroot (write tokens for your web server) is required');
  }

  const supervisor: SupervisorOptions = {
    directoryUrl,
    storeDir: parseStoreDir(raw.out),
    http01,
    allowInsecureLoopback,
  };
  if (raw.caBundle !== undefined) supervisor.caBundle = await readCaBundle(raw.caBundle);
  if (raw.email !== undefined) {
    // The shape fillOptions checks for contacts (RFC 8555 §7.3, mailto: only), reported against --email.
    supervisor.contact = [parseEmail(raw.email)];
  }
  if (keyType !== undefined) supervisor.keyType = keyType;
  supervisor.challenge = challenge;
  if (raw.profile !== undefined) supervisor.profile = raw.profile;
  const dns01 = await parseDns01Flags(raw, challenge);
  if (dns01) supervisor.dns01 = dns01;
  if (raw.tlsPort !== undefined) {
    const host = listenAddress('--tls-host', raw.tlsHost ?? ISSUE_HTTP_HOST);
    supervisor.tlsAlpn01 = { mode: 'standalone', port: parsePort('--tls-port', raw.tlsPort), host };
  } else if (challenge === 'tls-alpn-01') {
    bad('--challenge tls-alpn-01 needs --tls-port (a real CA validates on port 443)');
  }
  fillOptions(supervisor); // the supervisor's own checks (contact...), still before any request
  const [domain, ...sans] = names;
  return { supervisor, domain: domain as string, sans, keyType, force: raw.force === true };
}

/**
 * Obtains the certificate and prints the outcome. Returns 0; failures reject (main.ts prints them
 * as one line). Everything it starts is stopped before it returns.
 */
export async function runIssue(opts: IssueOptions, io: CliIo): Promise<number> {
  const scope = new RunScope({ warn: io.err });
  return scope.run(async () => {
    const t0 = Date.now();
    const names = [opts.domain, ...opts.sans];
    io.out(`leec issue: ${names.join(', ')} from ${opts.supervisor.directoryUrl}`);
    if (!opts.force) {
      // Decided from the store alone: a fresh certificate costs no request and binds no port.
      const keyType = opts.keyType ?? opts.supervisor.keyType ?? DEFAULT_KEY_TYPE;
      const reused = await reuseFreshCertificate(new CertStore(opts.supervisor.storeDir), opts.domain, names, keyType, t0);
      if (reused) {
        for (const line of describeResult(reused)) io.out(line);
        return 0;
      }
    }
    const sup = await Supervisor.start(opts.supervisor);
    scope.defer('supervisor', () => sup.shutdown());
    scope.check();
    io.out(`${describeChallenge(opts.supervisor, sup)}, account ${sup.accountUrl ?? '(throwaway)'}`);
    sup.on('state', (e) => io.out(`${stamp(Date.now() - t0)} ${e.state}${e.incarnation > 0 ? ` (incarnation ${e.incarnation})` : ''}`));
    sup.on('agent:restart', (e) => io.out(`${stamp(Date.now() - t0)} agent died (${e.error.code}), restarting`));
    const obtain: { sans: string[]; keyType?: KeyType } = { sans: opts.sans };
    if (opts.keyType !== undefined) obtain.keyType = opts.keyType;
    const result = await sup.obtainCertificate(opts.domain, obtain);
    for (const line of describeResult(result)) io.out(line);
    return 0;
  });
}

function describeChallenge(o: SupervisorOptions, sup: Supervisor): string {
  if (o.challenge === 'dns-01') {
    const p = o.dns01?.provider;
    return `dns-01 TXT records through the ${p && 'name' in p ? p.name : '?'} provider`;
  }
  if (o.challenge === 'tls-alpn-01') return `tls-alpn-01 responder on ${o.tlsAlpn01?.mode === 'standalone' ? o.tlsAlpn01.host : '?'}:${sup.tlsAlpn01Port ?? '?'}`;
  if (o.http01?.mode === 'webroot') return `http-01 tokens written under ${o.http01.webroot}/.well-known/acme-challenge/`;
  return `http-01 responder on ${o.http01?.mode === 'standalone' ? o.http01.host : '?'}:${sup.http01Port ?? '?'}`;
}

function describeResult(r: CertificateResult): string[] {
  const days = daysLeft(r.notAfter);
  const lines = r.reused
    ? [`reused stored certificate (${days} days left, use --force)`]
    : [`issued certificate for ${r.domain} in ${seconds(r.elapsedMs)}s (${r.requests} ACME requests, ${r.challengesAnswered} challenges answered)`];
  let serial = '?';
  try {
    serial = describeCertificate(r.fullchainPem).serialNumber;
  } catch {
    // the store checked it; keep '?'
  }
  lines.push(
    `  names      ${r.names.join(', ')}`,
    `  key type   ${r.keyType}`,
    `  serial     ${serial}`,
    `  not after  ${r.notAfter} (${days} days left)`,
    `  fullchain  ${r.paths.fullchain}`,
    `  privkey    ${r.paths.privkey}`,
  );
  return lines;
}
