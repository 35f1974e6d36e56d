/**
 * `leec account rollover`: replaces the account key (RFC 8555 §7.3.5). A new EC P-256 key is made,
 * keyChange signs it in (inner JWS by the new key, outer by the old), and only once the CA accepted it
 * does the store's key file get replaced, atomically (temp file, fsync, rename). If the CA refuses, the
 * stored key is left as it was. The new key is written to `account.key.next` before keyChange is sent, so a
 * crash in between loses nothing: the next session asks the CA which key it knows.
 */
import { ErrorCode, LeecError, StoreError } from '../errors.js';
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
    const session = await openSession(conn, scope);
    const stored = await requireStoredAccount(conn); // again, under the lock and after the session
    const client = session.client(stored.key);
    const account = await findAccount(client);
    const oldThumbprint = await thumbprintOf(stored.key);
    const next = await newAccountKey();
    const store = new CertStore(conn.storeDir);
    // Kept before keyChange is sent: a crash after the CA took it must not lose the account.
    await store.savePendingAccountKey(conn.directoryUrl, next.keyPem);
    try {
      await client.keyChange(next.key);
    } catch (e) {
      // Refused by the CA: the stored key is untouched. Anything else (a lost answer) may have taken
      // effect: the pending key stays, and the next command asks the CA which key it knows.
      if (e instanceof LeecError && e.problem !== undefined) await store.clearPendingAccountKey(conn.directoryUrl);
      throw e;
    }
    try {
      await store.saveAccount(conn.directoryUrl, { keyPem: next.keyPem, url: account.url });
      await store.clearPendingAccountKey(conn.directoryUrl);
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
