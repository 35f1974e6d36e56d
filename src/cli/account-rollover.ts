/**
 * `leec account rollover`: replaces the account key (RFC 8555 §7.3.5). A new EC P-256 key is made,
 * keyChange signs it in (inner JWS by the new key, outer by the old), and only once the CA accepted it
 * does the store's key file get replaced, atomically (temp file, fsync, rename). If the CA refuses, the
 * stored key is left as it was.
 */
import { ErrorCode, StoreError } from '../errors.js';
import { CertStore } from '../store/cert-store.js';
import { findAccount, openSession } from './acme-session.js';
import { lockFor, type AccountOptions } from './account.js';
import { accountView, printAccount } from './account-view.js';
import type { CliIo } from './io.js';
import { RunScope } from './run-scope.js';
import { newAccountKey, requireStoredAccount, thumbprintOf } from './stored-account.js';

/** Rolls the stored account key over to a new one and prints both thumbprints. */
export async function runAccountRollover(opts: AccountOptions, io: CliIo): Promise<number> {
  const conn = opts.connection;
  await requireStoredAccount(conn); // before any request
  const scope = new RunScope({ warn: io.err });
  return scope.run(async () => {
    await lockFor(conn, scope);
    const stored = await requireStoredAccount(conn); // again, under the lock
    const session = await openSession(conn, scope);
    const client = session.client(stored.key);
    const account = await findAccount(client);
    const oldThumbprint = await thumbprintOf(stored.key);
    const next = await newAccountKey();
    await client.keyChange(next.key); // throws when the CA refuses: the stored key is untouched
    try {
      await new CertStore(conn.storeDir).saveAccount(conn.directoryUrl, { keyPem: next.keyPem, url: account.url });
    } catch (cause) {
      throw new StoreError(
        ErrorCode.store,
        `the CA now knows account ${account.url} by the new key, but saving it to ${stored.keyFile} failed: ${(cause as Error).message}`,
        { step: 'store', cause, data: { path: stored.keyFile, accountUrl: account.url } },
      );
    }
    const thumbprint = await thumbprintOf(next.key);
    printAccount(io, {
      heading: 'account key rolled over',
      view: accountView(account, stored.keyFile, thumbprint),
      json: opts.json,
      extra: { oldThumbprint },
      notes: [`  old key    ${oldThumbprint} (the CA no longer accepts it)`],
    });
    return 0;
  });
}
