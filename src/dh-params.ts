/**
 * Diffie-Hellman parameters for servers that still offer finite-field DHE (LEEC's `dh-params.pem`,
 * which US-Web gave Cowboy as `dhfile`): a safe prime from node:crypto (async, off the event loop) and
 * generator 2, encoded as PKCS#3 DHParameter (RFC 2631 §2.1.1's `p`, `g`) PEM. Generated once, then reused.
 */
import { generatePrime } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
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

/** The parameters in `path` when present (generated once, as LEEC did), else new ones written there (0644). */
export async function obtainDhParams(path: string, bits: number): Promise<{ pem: string; created: boolean }> {
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  if (existing?.includes('-----BEGIN DH PARAMETERS-----')) return { pem: existing, created: false };
  const pem = await generateDhParams(bits);
  await writeFileAtomic(path, pem, 0o644);
  return { pem, created: true };
}
