/**
 * Finishing an account key rollover (RFC 8555 §7.3.5) that a crash interrupted. The rollover writes the new
 * key to `account.key.next` before it sends keyChange; if the process dies between the CA's acceptance and
 * the store's update, the stored `account.key` is one the CA no longer knows. Before an account is used,
 * this asks the CA (§7.3.1 `onlyReturnExisting`, which creates nothing) whether it knows the new key:
 * if it does, the new key becomes the stored one; if it answers `accountDoesNotExist`, keyChange never
 * took effect and the new key is dropped. Any other answer leaves both files as they are.
 */
import { createPublicKey } from 'node:crypto';
import { AcmeClient } from './acme/client.js';
import { toAccountKey } from './acme/account-key.js';
import { shortProblemType } from './acme/problem.js';
import type { HttpTransport } from './acme/transport.js';
import type { Directory } from './acme/types.js';
import { jwsAlgorithmFor, loadPrivateKey } from './crypto/keys.js';
import { LeecError } from './errors.js';
import type { CertStore } from './store/cert-store.js';

/** What happened to a rollover left unfinished: `none` when there was none. */
export type RolloverSettlement = 'none' | 'adopted' | 'dropped';

export async function settleInterruptedRollover(opts: {
  store: CertStore;
  directoryUrl: string;
  directory: Directory;
  transport: HttpTransport;
  signal?: AbortSignal | undefined;
}): Promise<RolloverSettlement> {
  const pendingPem = await opts.store.loadPendingAccountKey(opts.directoryUrl);
  if (pendingPem === undefined) return 'none';
  let privateKey;
  try {
    privateKey = loadPrivateKey(pendingPem);
  } catch {
    // Torn or foreign: the atomic write makes this unlikely, and such a key cannot have been sent.
    await opts.store.clearPendingAccountKey(opts.directoryUrl);
    return 'dropped';
  }
  const client = new AcmeClient({
    directory: opts.directory,
    transport: opts.transport,
    accountKey: await toAccountKey(privateKey, createPublicKey(privateKey), jwsAlgorithmFor(privateKey)),
    signal: opts.signal,
  });
  try {
    const account = await client.newAccount({ onlyReturnExisting: true });
    await opts.store.saveAccount(opts.directoryUrl, { keyPem: pendingPem, url: account.url });
    await opts.store.clearPendingAccountKey(opts.directoryUrl);
    return 'adopted';
  } catch (e) {
    if (!(e instanceof LeecError) || e.problem === undefined || shortProblemType(e.problem.type) !== 'accountDoesNotExist') throw e;
    await opts.store.clearPendingAccountKey(opts.directoryUrl);
    return 'dropped';
  }
}
