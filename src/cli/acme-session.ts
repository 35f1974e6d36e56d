/**
 * One CLI command's connection to an ACME CA: an HTTPS transport trusting `--ca-bundle` (for this run
 * only), the directory (RFC 8555 §7.1.1) fetched once, and AcmeClients over them that stop when the
 * command is interrupted. The transport is closed when the command's RunScope closes.
 */
import { AcmeClient } from '../acme/client.js';
import { fetchDirectory } from '../acme/directory.js';
import type { AccountKey } from '../acme/jws.js';
import { HttpTransport } from '../acme/transport.js';
import type { Account, Directory } from '../acme/types.js';
import { settleInterruptedRollover } from '../account-rollover-recovery.js';
import { CertStore } from '../store/cert-store.js';
import type { ConnectionOptions } from './connection-options.js';
import type { RunScope } from './run-scope.js';

/** Per ACME HTTP request. */
const HTTP_TIMEOUT_MS = 30_000;

/** An open connection to the CA of one command. */
export interface AcmeSession {
  readonly directory: Directory;
  /** An AcmeClient signing with `key`, with `accountUrl` as its `kid` when already known (§6.2). */
  client(key: AccountKey, accountUrl?: string): AcmeClient;
}

/**
 * Opens the transport (closed with `scope`) and fetches the directory: the command's first request. Then
 * finishes a key rollover a crash interrupted (account-rollover-recovery.ts), so read the stored account
 * after this call.
 */
export async function openSession(conn: ConnectionOptions, scope: RunScope): Promise<AcmeSession> {
  const transport = new HttpTransport({ caPem: conn.caBundle, timeoutMs: HTTP_TIMEOUT_MS });
  scope.defer('ACME transport', () => transport.close());
  const directory = await fetchDirectory(transport, conn.directoryUrl, scope.signal);
  scope.check();
  // A rollover killed after the CA took the new key: adopt that key before anything uses the account.
  await settleInterruptedRollover({ store: new CertStore(conn.storeDir), directoryUrl: conn.directoryUrl, directory, transport, signal: scope.signal });
  scope.check();
  return {
    directory,
    client: (accountKey, accountUrl) => new AcmeClient({ directory, transport, accountKey, accountUrl, signal: scope.signal }),
  };
}

/**
 * §7.3.1: the account bound to the client's key, looked up with `onlyReturnExisting` (nothing is
 * created). A key the CA does not know fails with the `accountDoesNotExist` problem. The client keeps
 * the account URL as its `kid` afterwards.
 */
export function findAccount(client: AcmeClient): Promise<Account> {
  return client.newAccount({ onlyReturnExisting: true });
}
