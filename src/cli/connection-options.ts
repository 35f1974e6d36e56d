/**
 * The flags every command that talks to an ACME CA shares (`--directory`, `--ca-bundle`, `--out`,
 * `--insecure-loopback`) and the small option parsers the CLI commands reuse (`--email`, ports). All of
 * them check their input, and read the CA bundle file, without any network request; bad input is an
 * InvalidInputError (exit 2).
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { splitPemChain } from '../crypto/certificate.js';
import { ErrorCode, InvalidInputError } from '../errors.js';
import { checkDirectoryUrl } from '../options.js';

/** Where the store goes unless --out says otherwise. */
export const DEFAULT_STORE_DIR = './leec-store';

/** The connection flags as commander hands them over (strings, unchecked). */
export interface RawConnectionOptions {
  directory?: string;
  caBundle?: string;
  out?: string;
  insecureLoopback?: boolean;
}

/** Checked connection flags. */
export interface ConnectionOptions {
  /** The ACME directory URL, normalised (https:, or http: on loopback with --insecure-loopback). */
  directoryUrl: string;
  /** PEM trust anchors for the CA's HTTPS; undefined: Node's bundled roots. */
  caBundle: string | undefined;
  /** The store directory, absolute. */
  storeDir: string;
  allowInsecureLoopback: boolean;
}

/** Throws the CLI's bad-input error: ERR_INVALID_OPTION, step `input` (exit 2). */
export function badOption(message: string, data: Record<string, unknown> = {}): never {
  throw new InvalidInputError(ErrorCode.invalidOption, message, { step: 'input', data });
}

/** A TCP port from 1 to 65535, reported against `flag`. */
export function parsePort(flag: string, raw: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) badOption(`${flag} must be a port from 1 to 65535, got ${JSON.stringify(raw)}`, { [flag]: raw });
  return port;
}

/**
 * An e-mail address from `--email`, as the account contact URL `mailto:<address>` (RFC 8555 §7.3: contacts
 * are URLs; leec sends mailto: only). Same shape as the supervisor's contact check.
 */
export function parseEmail(raw: string): string {
  if (!/^[^@\s,:]+@[^@\s,]+\.[^@\s,]+$/.test(raw)) badOption(`--email ${JSON.stringify(raw)} is not an e-mail address`, { email: raw });
  return `mailto:${raw}`;
}

/** The `--directory` URL: required, https:// (RFC 8555 §6.1) unless --insecure-loopback allows http:// on loopback. */
export function parseDirectory(raw: string | undefined, allowInsecureLoopback: boolean): string {
  if (raw === undefined) badOption("--directory is required (the CA's ACME directory URL)");
  return checkDirectoryUrl(raw, allowInsecureLoopback);
}

/** The `--out` store directory, absolute. */
export function parseStoreDir(raw: string | undefined): string {
  const out = raw ?? DEFAULT_STORE_DIR;
  if (out.trim() === '') badOption('--out must be a directory path');
  return path.resolve(out);
}

/** Reads `--ca-bundle`: a readable file of PEM certificates that all parse. */
export async function readCaBundle(file: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    return badOption(`cannot read --ca-bundle ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { caBundle: file });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) badOption(`--ca-bundle ${file} holds no PEM certificate`, { caBundle: file });
  try {
    for (const one of splitPemChain(pem)) new X509Certificate(one);
  } catch (err) {
    badOption(`--ca-bundle ${file} holds a certificate that does not parse: ${(err as Error).message}`, { caBundle: file });
  }
  return pem;
}

/** Checks the four connection flags (the CA bundle file is read; nothing is sent). */
export async function parseConnectionOptions(raw: RawConnectionOptions): Promise<ConnectionOptions> {
  const allowInsecureLoopback = raw.insecureLoopback === true;
  const directoryUrl = parseDirectory(raw.directory, allowInsecureLoopback);
  const storeDir = parseStoreDir(raw.out);
  const caBundle = raw.caBundle === undefined ? undefined : await readCaBundle(raw.caBundle);
  return { directoryUrl, caBundle, storeDir, allowInsecureLoopback };
}

/** Adds the connection flags to a commander command (the same help text for every command). */
export function withConnectionFlags(cmd: Command): Command {
  return cmd
    .option('--directory <url>', 'ACME directory URL (https://)')
    .option('--ca-bundle <file>', "PEM file of trust anchors for the CA's HTTPS (instead of the system store)")
    .option('--out <dir>', 'store directory (certificates/<domain>/, accounts/)', DEFAULT_STORE_DIR)
    .option('--insecure-loopback', 'accept an http:// directory on a loopback address (test CAs only)');
}
