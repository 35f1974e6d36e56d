/**
 * Reads the OVH API credentials file of the `ovh` dns-01 provider. The format is LEEC's (the certbot
 * dns-ovh credentials file its manual documents), so a LEEC user's existing file works unchanged:
 *
 *     # leec-ovh-credentials-for-foobar.org.txt: mode 0600 (or 0400), owned by the user running leec
 *     dns_ovh_endpoint = ovh-eu
 *     dns_ovh_application_key = 3a2b42bc0caeb7d4
 *     dns_ovh_application_secret = fb7472abcd8f9980210571ca502d793c
 *     dns_ovh_consumer_key = 5b1226df0d5ea12192ae2c9642cf7b60
 *
 * `dns_ovh_application_key` (AK) is sent as X-Ovh-Application, `dns_ovh_consumer_key` (CK) as
 * X-Ovh-Consumer, `dns_ovh_application_secret` (AS) is never sent (it only signs, see ovh-signature.ts).
 * `dns_ovh_endpoint` is optional: the provider's `endpoint` option, when given, wins over it.
 *
 * One `key = value` a line; blank lines and lines starting with `#` or `;` are ignored; a value may be
 * wrapped in single or double quotes and must be printable ASCII without spaces. Any other key, a
 * repeated key or a missing required key is refused.
 *
 * Like ssh with its private files, the file must be a regular file owned by the current user, with no
 * permission bits for group or others (0600 or stricter); otherwise it is refused before anything is
 * sent. The checks run on the opened descriptor, so they are about the very file that is read.
 * Errors name the file, the line and the key, never a value.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { ErrorCode, InvalidInputError } from '../errors.js';

/** The three OVH API credentials, plus the endpoint when the file names one. */
export interface OvhCredentials {
  applicationKey: string;
  applicationSecret: string;
  consumerKey: string;
  /** `dns_ovh_endpoint`, when present. */
  endpoint?: string;
}

const MAX_BYTES = 64 * 1024;

const KEYS = {
  dns_ovh_endpoint: 'endpoint',
  dns_ovh_application_key: 'applicationKey',
  dns_ovh_application_secret: 'applicationSecret',
  dns_ovh_consumer_key: 'consumerKey',
} as const;
type FileKey = keyof typeof KEYS;

function refuse(file: string, message: string, data: Record<string, unknown> = {}): InvalidInputError {
  return new InvalidInputError(ErrorCode.invalidOption, `ovh provider: credentials file ${file}: ${message}`, {
    step: 'input',
    data: { provider: 'ovh', option: 'credentialsFile', path: file, ...data },
  });
}

function readChecked(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw refuse(file, 'cannot be opened', { cause: (err as NodeJS.ErrnoException).code });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw refuse(file, 'is not a regular file');
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      throw refuse(file, `is owned by uid ${st.uid}, not by the current user (uid ${uid})`, { uid: st.uid, expectedUid: uid });
    }
    const mode = st.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      const octal = `0${mode.toString(8).padStart(3, '0')}`;
      throw refuse(file, `has mode ${octal}: it must not be readable or writable by group or others (chmod 600)`, { mode: octal });
    }
    if (st.size > MAX_BYTES) throw refuse(file, `is larger than ${MAX_BYTES} bytes`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function unquote(v: string): string {
  if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0]) return v.slice(1, -1);
  return v;
}

/**
 * Reads and checks `file` (see the module comment). Synchronous, so a provider can refuse a bad file
 * when it is created. Throws `InvalidInputError` (`ERR_INVALID_OPTION`, step `input`).
 */
export function readOvhCredentials(file: string): OvhCredentials {
  const abs = path.resolve(file);
  const text = readChecked(abs);
  const found: Partial<Record<FileKey, string>> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw refuse(abs, `line ${i + 1} is not \`key = value\``, { line: i + 1 });
    const key = line.slice(0, eq).trim();
    if (!Object.hasOwn(KEYS, key)) {
      throw refuse(abs, `line ${i + 1}: unknown key ${JSON.stringify(key.slice(0, 64))} (known: ${Object.keys(KEYS).join(', ')})`, { line: i + 1, key: key.slice(0, 64) });
    }
    const k = key as FileKey;
    if (found[k] !== undefined) throw refuse(abs, `line ${i + 1}: ${k} is given twice`, { line: i + 1, key: k });
    const value = unquote(line.slice(eq + 1).trim());
    if (value === '') throw refuse(abs, `line ${i + 1}: ${k} is empty`, { line: i + 1, key: k });
    // The keys travel in HTTP headers: printable ASCII without spaces (OVH's are alphanumeric).
    if (!/^[\x21-\x7e]+$/.test(value)) throw refuse(abs, `line ${i + 1}: ${k} has characters other than printable ASCII`, { line: i + 1, key: k });
    found[k] = value;
  }
  for (const k of ['dns_ovh_application_key', 'dns_ovh_application_secret', 'dns_ovh_consumer_key'] as const) {
    if (found[k] === undefined) throw refuse(abs, `${k} is missing`, { key: k });
  }
  const creds: OvhCredentials = {
    applicationKey: found.dns_ovh_application_key!,
    applicationSecret: found.dns_ovh_application_secret!,
    consumerKey: found.dns_ovh_consumer_key!,
  };
  if (found.dns_ovh_endpoint !== undefined) creds.endpoint = found.dns_ovh_endpoint;
  return creds;
}
