/**
 * Diffie-Hellman parameters for servers that still offer finite-field DHE (LEEC's `dh-params.pem`,
 * which US-Web gave Cowboy as `dhfile`): a safe prime from node:crypto (async, off the event loop) and
 * generator 2, encoded as PKCS#3 DHParameter (RFC 2631 §2.1.1's `p`, `g`) PEM. Generated once, then reused.
 */
import { generatePrime } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode, InvalidInputError } from './errors.js';
import { writeFileAtomic } from './store/atomic-write.js';

const generatePrimeAsync = promisify(generatePrime) as unknown as (bits: number, opts: { safe: boolean; bigint: true }) => Promise<bigint>;

/** DER of a non-negative INTEGER (X.690 §8.3): big-endian, a leading 0x00 when the top bit is set. */
function derInteger(n: bigint): Buffer {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let body = Buffer.from(hex, 'hex');
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return Buffer.concat([Buffer.from([0x02]), derLength(body.length), body]);
}

function derLength(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  const bytes: number[] = [];
  for (let l = len; l > 0; l >>= 8) bytes.unshift(l & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** PKCS#3 DHParameter ::= SEQUENCE { prime INTEGER, base INTEGER } as PEM. */
export function dhParamsPem(prime: bigint, generator = 2n): string {
  const body = Buffer.concat([derInteger(prime), derInteger(generator)]);
  const der = Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]);
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n');
  return `-----BEGIN DH PARAMETERS-----\n${b64}-----END DH PARAMETERS-----\n`;
}

/** A new safe prime of `bits` bits with generator 2, as PEM. 2048 bits takes seconds to a minute. */
export async function generateDhParams(bits: number): Promise<string> {
  return dhParamsPem(await generatePrimeAsync(bits, { safe: true, bigint: true }));
}

/** The size in bits of the prime of PKCS#3 DHParameter PEM; undefined when it is not that. */
export function dhPrimeBits(pem: string): number | undefined {
  const m = /-----BEGIN DH PARAMETERS-----([A-Za-z0-9+/=\s]+)-----END DH PARAMETERS-----/.exec(pem);
  if (!m) return undefined;
  const der = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
  // SEQUENCE { INTEGER prime, ... }: skip the SEQUENCE header, read the INTEGER's length.
  let i = 0;
  const length = (): number | undefined => {
    const first = der[i++];
    if (first === undefined) return undefined;
    if (first < 0x80) return first;
    let n = 0;
    for (let k = 0; k < (first & 0x7f); k++) n = n * 256 + (der[i++] ?? 0);
    return n;
  };
  if (der[i++] !== 0x30 || length() === undefined || der[i++] !== 0x02) return undefined;
  let len = length();
  if (len === undefined || len === 0 || i + len > der.length) return undefined;
  while (len > 1 && der[i] === 0) {
    i++;
    len--;
  }
  return (len - 1) * 8 + (32 - Math.clz32(der[i]!));
}

/**
 * The parameters in `path` when they have a `bits`-bit prime (generated once, as LEEC did), else new ones
 * written there (0644). A file there that holds no DH parameters is refused, not overwritten.
 */
export async function obtainDhParams(path: string, bits: number): Promise<{ pem: string; created: boolean }> {
  const existing = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new InvalidInputError(ErrorCode.invalidOption, `--out ${path}: ${e.message}`, { step: 'input', data: { path } });
  });
  if (existing !== undefined) {
    const have = dhPrimeBits(existing);
    if (have === undefined) {
      throw new InvalidInputError(ErrorCode.invalidOption, `--out ${path} exists and holds no DH parameters: not overwritten`, { step: 'input', data: { path } });
    }
    if (have === bits) return { pem: existing, created: false };
  }
  // Checked before the (long) generation: where the file goes must be a directory.
  const dir = await stat(dirname(path)).catch(() => undefined);
  if (!dir?.isDirectory()) throw new InvalidInputError(ErrorCode.invalidOption, `--out ${path}: ${dirname(path)} is not a directory`, { step: 'input', data: { path } });
  const pem = await generateDhParams(bits);
  await writeFileAtomic(path, pem, 0o644).catch((e: Error) => {
    throw new InvalidInputError(ErrorCode.invalidOption, `--out ${path}: ${e.message}`, { step: 'input', data: { path } });
  });
  return { pem, created: true };
}
