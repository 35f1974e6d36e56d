/**
 * `leec inspect FILE|HOST:PORT [--ca FILE] [--servername NAME]`: a readable report of a certificate chain
 * from a PEM file or a live TLS server (the chain it presents), and whether it verifies.
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { splitPemChain } from '../crypto/certificate.js';
import { reportChain, type ChainReport } from '../crypto/chain-report.js';
import { ErrorCode, InvalidInputError, TransportError } from '../errors.js';
import type { CliIo } from './io.js';

export interface InspectOptions {
  target: string;
  caFile?: string | undefined;
  servername?: string | undefined;
}

const HOST_PORT = /^(\[[0-9a-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/i;

/** The chain a TLS server presents (leaf first), as PEM. Trust is judged afterwards, not here. */
function fetchChain(host: string, port: number, servername: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const sni = servername ?? (/^[\d.[\]:]+$/.test(host) ? undefined : host);
    const socket = tls.connect({ host: host.replace(/^\[|\]$/g, ''), port, ...(sni ? { servername: sni } : {}), rejectUnauthorized: false, timeout: 10_000 }, () => {
      const pems: string[] = [];
      const seen = new Set<string>();
      let cert = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
      while (cert?.raw && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        pems.push(`-----BEGIN CERTIFICATE-----\n${cert.raw.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`);
        cert = cert.issuerCertificate;
      }
      socket.end();
      resolve(pems.join(''));
    });
    socket.once('timeout', () => socket.destroy(new Error('timed out')));
    socket.once('error', (cause) => reject(new TransportError(ErrorCode.transport, `cannot read the certificate of ${host}:${port}: ${cause.message}`, { cause })));
  });
}

/** A file given as certificates must hold at least one PEM `CERTIFICATE` block (a key, DER or text does not). */
function requireCertificates(pem: string, what: string): void {
  if (!/-----BEGIN CERTIFICATE-----/.test(pem)) {
    throw new InvalidInputError(ErrorCode.invalidOption, `${what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, { step: 'input' });
  }
}

export async function runInspect(opts: InspectOptions, io: CliIo): Promise<number> {
  const trustPem = opts.caFile === undefined ? undefined : await readFile(opts.caFile, 'utf8').catch((cause: unknown) => {
    throw new InvalidInputError(ErrorCode.invalidOption, `--ca ${opts.caFile}: ${(cause as Error).message}`, { step: 'input' });
  });
  if (trustPem !== undefined) requireCertificates(trustPem, `--ca ${opts.caFile}`);
  const m = HOST_PORT.exec(opts.target);
  let pem: string;
  if (m && !(await readFile(opts.target).then(() => true, () => false))) {
    const port = Number(m[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InvalidInputError(ErrorCode.invalidOption, `${opts.target}: the port must be 1 to 65535`, { step: 'input', data: { target: opts.target } });
    }
    pem = await fetchChain(m[1]!, port, opts.servername);
  } else {
    pem = await readFile(opts.target, 'utf8').catch((cause: unknown) => {
      throw new InvalidInputError(ErrorCode.invalidOption, `${opts.target} is neither a readable PEM file nor HOST:PORT: ${(cause as Error).message}`, { step: 'input' });
    });
    requireCertificates(pem, opts.target);
  }
  const report = reportChain(pem, { trustPem });
  for (const line of formatReport(report)) io.out(line);
  // From a server, the leaf must also be for the name asked for (RFC 6125), as a TLS client checks.
  const asked = m ? (opts.servername ?? m[1]!.replace(/^\[|\]$/g, '')) : opts.servername;
  if (asked === undefined) return report.verified ? 0 : 1;
  const matches = leafMatches(pem, asked);
  io.out(`name match   ${matches ? 'yes' : 'no'} (${asked})`);
  return report.verified && matches ? 0 : 1;
}

/** Whether the first certificate of `pem` is valid for `name`: a DNS name (wildcards as TLS allows) or an IP. */
function leafMatches(pem: string, name: string): boolean {
  const leaf = new X509Certificate(splitPemChain(pem)[0]!);
  return isIP(name) !== 0 ? leaf.checkIP(name) !== undefined : leaf.checkHost(name) !== undefined;
}

export function formatReport(r: ChainReport): string[] {
  const lines: string[] = [];
  r.certificates.forEach((c, i) => {
    lines.push(`certificate ${i}${i === 0 ? ' (leaf)' : c.isCa ? ' (CA)' : ''}`);
    lines.push(`  subject      ${c.subject || '(empty)'}`);
    if (c.names.length > 0) lines.push(`  names        ${c.names.join(', ')}`);
    lines.push(`  issuer       ${c.issuer}`);
    lines.push(`  valid        ${c.notBefore} → ${c.notAfter} (${c.daysLeft} days left)`);
    lines.push(`  key          ${c.keyType}`);
    lines.push(`  serial       ${c.serialNumber}`);
    lines.push(`  sha-256      ${c.fingerprint256}`);
  });
  lines.push(`chain order  ${r.inOrder ? 'ok (each certificate signed by the next)' : 'WRONG'}`);
  lines.push(`verifies     ${r.verified ? 'yes' : 'no'}`);
  for (const p of r.problems) lines.push(`  problem: ${p}`);
  return lines;
}
