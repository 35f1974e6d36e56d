/**
 * `leec revoke --cert FILE [--key FILE] [--reason R]`: RFC 8555 §7.6 revokeCert. Signed by the stored
 * account key (`kid`), or, with `--key`, by the certificate's own private key (`jwk`), which needs no
 * account. The certificate (the first of a chain file), the key, their match and the reason are all
 * checked before any request. A CA answer such as `alreadyRevoked` is a failure (exit 1) whose problem
 * type is on the report line.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AccountKey } from '../acme/jws.js';
import { describeCertificate, splitPemChain } from '../crypto/certificate.js';
import { loadPrivateKey } from '../crypto/keys.js';
import { findAccount, openSession } from './acme-session.js';
import { badOption, parseConnectionOptions, type ConnectionOptions, type RawConnectionOptions } from './connection-options.js';
import type { CliIo } from './io.js';
import { parseRevocationReason, reasonName } from './revocation-reason.js';
import { CertStore } from '../store/cert-store.js';
import { RunScope } from './run-scope.js';
import { requireStoredAccount, signingKey } from './stored-account.js';

/** The revoke flags as commander hands them over. */
export interface RawRevokeOptions extends RawConnectionOptions {
  cert?: string;
  key?: string;
  reason?: string;
}

/** Checked revoke options. */
export interface RevokeOptions {
  connection: ConnectionOptions;
  /** The certificate to revoke, DER (§7.6 `certificate`, base64url on the wire). */
  certDer: Uint8Array;
  serialNumber: string;
  names: string[];
  /** `--key`: the certificate's private key, to sign the request with (§7.6); undefined: the account key. */
  certKey: { privateKey: KeyObject; signer: AccountKey } | undefined;
  /** RFC 5280 §5.3.1 CRLReason code; undefined: none sent (the CA records unspecified). */
  reason: number | undefined;
}

async function readFlagFile(flag: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    return badOption(`cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { [flag]: file });
  }
}

function firstCertificate(file: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(splitPemChain(pem)[0]!);
  } catch {
    return badOption(`--cert ${file} holds no PEM certificate that parses`, { cert: file });
  }
}

/** Checks every revoke flag and reads the files; nothing is sent. */
export async function parseRevokeOptions(raw: RawRevokeOptions): Promise<RevokeOptions> {
  const connection = await parseConnectionOptions(raw);
  if (raw.cert === undefined) badOption('--cert is required (the PEM certificate to revoke)');
  const cert = firstCertificate(raw.cert, await readFlagFile('--cert', raw.cert));
  const reason = raw.reason === undefined ? undefined : parseRevocationReason(raw.reason);
  let certKey: RevokeOptions['certKey'];
  if (raw.key !== undefined) {
    const keyPem = await readFlagFile('--key', raw.key);
    let privateKey: KeyObject;
    try {
      privateKey = loadPrivateKey(keyPem);
    } catch {
      return badOption(`--key ${raw.key} is not a PEM private key`, { key: raw.key });
    }
    if (!cert.checkPrivateKey(privateKey)) badOption(`--key ${raw.key} is not the private key of --cert ${raw.cert}`, { key: raw.key, cert: raw.cert });
    certKey = { privateKey, signer: await signingKey(privateKey) };
  }
  return { connection, certDer: new Uint8Array(cert.raw), serialNumber: cert.serialNumber, names: describeCertificate(cert.toString()).names, certKey, reason };
}

/** Revokes the certificate and prints what was revoked and who signed the request. */
export async function runRevoke(opts: RevokeOptions, io: CliIo): Promise<number> {
  const conn = opts.connection;
  if (opts.certKey === undefined) await requireStoredAccount(conn); // before any request
  const scope = new RunScope({ warn: io.err });
  return scope.run(async () => {
    const session = await openSession(conn, scope);
    const reason = opts.reason === undefined ? {} : { reason: opts.reason };
    let signedBy: string;
    if (opts.certKey !== undefined) {
      const client = session.client(opts.certKey.signer);
      await client.revokeCertificate(opts.certDer, { ...reason, signWith: { certKey: opts.certKey.privateKey } });
      signedBy = "the certificate's key";
    } else {
      const current = await requireStoredAccount(conn); // after the session, which may have finished a rollover
      const client = session.client(current.key);
      const account = await findAccount(client);
      await client.revokeCertificate(opts.certDer, { ...reason, signWith: 'account' });
      signedBy = `account ${account.url}`;
    }
    io.out(`revoked certificate ${opts.serialNumber}`);
    io.out(`  names      ${opts.names.join(', ') || '(none)'}`);
    io.out(`  reason     ${opts.reason === undefined ? '(none sent)' : `${opts.reason} ${reasonName(opts.reason)}`}`);
    io.out(`  signed by  ${signedBy}`);
    // Never reused as fresh afterwards: the next `leec issue` for it orders a new certificate.
    const storedFor = await new CertStore(conn.storeDir).recordRevocation(opts.serialNumber).catch((e: unknown) => {
      io.err(`leec: warning: revoked, but not marked in the store ${conn.storeDir}: ${(e as Error).message}`);
      return undefined;
    });
    if (storedFor !== undefined) io.out(`  store      ${storedFor}: marked revoked, the next \`leec issue\` orders a new one`);
    return 0;
  });
}
