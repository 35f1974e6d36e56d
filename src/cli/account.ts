/**
 * `leec account register|show|update|deactivate`: the ACME account the store keeps for one directory
 * (RFC 8555 §7.3). Every option is checked, and the store read, before the first request; a command
 * that changes the account holds the store lock (one writer per store, as the supervisor). Key
 * rollover is in account-rollover.ts.
 */
import { decodeMacKey } from '../acme/eab.js';
import { CertStore } from '../store/cert-store.js';
import { lockStore } from '../store/store-lock.js';
import { findAccount, openSession } from './acme-session.js';
import { accountView, printAccount } from './account-view.js';
import { badOption, parseConnectionOptions, parseEmail, type ConnectionOptions, type RawConnectionOptions } from './connection-options.js';
import type { CliIo } from './io.js';
import { RunScope } from './run-scope.js';
import { accountKeyFile, newAccountKey, readStoredAccount, requireStoredAccount, thumbprintOf, type StoredAccount } from './stored-account.js';

/** The flags of every account command, as commander hands them over. */
export interface RawAccountOptions extends RawConnectionOptions {
  json?: boolean;
}

/** Checked flags of every account command. */
export interface AccountOptions {
  connection: ConnectionOptions;
  /** Print one JSON object instead of aligned lines. */
  json: boolean;
}

export interface RawAccountRegisterOptions extends RawAccountOptions {
  email?: string[];
  agreeTos?: boolean;
  eabKid?: string;
  eabHmacKey?: string;
}

export interface AccountRegisterOptions extends AccountOptions {
  /** `mailto:` contact URLs (§7.3). */
  contact: string[];
  /** §7.3.4 External Account Binding: the CA's key id and base64url MAC key (a secret). */
  eab: { kid: string; macKey: string } | undefined;
}

export interface RawAccountUpdateOptions extends RawAccountOptions {
  email?: string[];
}

export interface AccountUpdateOptions extends AccountOptions {
  contact: string[];
}

export interface RawAccountDeactivateOptions extends RawAccountOptions {
  yes?: boolean;
}

/** Checks the connection flags and `--json`. */
export async function parseAccountOptions(raw: RawAccountOptions): Promise<AccountOptions> {
  return { connection: await parseConnectionOptions(raw), json: raw.json === true };
}

/**
 * `account register`: §7.3 newAccount needs `termsOfServiceAgreed`, which only `--agree-tos` gives;
 * §7.3.4 EAB needs both `--eab-kid` and `--eab-hmac-key`.
 */
export async function parseAccountRegisterOptions(raw: RawAccountRegisterOptions): Promise<AccountRegisterOptions> {
  const base = await parseAccountOptions(raw);
  const contact = (raw.email ?? []).map(parseEmail);
  if (raw.agreeTos !== true) {
    badOption("--agree-tos is required: registering an account agrees to the CA's terms of service (RFC 8555 §7.3; its directory's meta.termsOfService names them)");
  }
  if ((raw.eabKid === undefined) !== (raw.eabHmacKey === undefined)) badOption('--eab-kid and --eab-hmac-key go together (RFC 8555 §7.3.4)');
  let eab: AccountRegisterOptions['eab'];
  if (raw.eabKid !== undefined && raw.eabHmacKey !== undefined) {
    if (raw.eabKid.trim() === '') badOption('--eab-kid must be the key identifier the CA gave you');
    try {
      decodeMacKey(raw.eabHmacKey);
    } catch {
      badOption('--eab-hmac-key must be the base64url MAC key the CA gave you (RFC 8555 §7.3.4)'); // the key itself is never echoed
    }
    eab = { kid: raw.eabKid, macKey: raw.eabHmacKey };
  }
  return { ...base, contact, eab };
}

/** `account update`: the new contact list, at least one `--email`. */
export async function parseAccountUpdateOptions(raw: RawAccountUpdateOptions): Promise<AccountUpdateOptions> {
  const base = await parseAccountOptions(raw);
  if (raw.email === undefined || raw.email.length === 0) badOption('--email is required (repeatable): the new contact list replaces the old one');
  return { ...base, contact: raw.email.map(parseEmail) };
}

/** `account deactivate`: irreversible (§7.3.6), so it needs `--yes`. */
export async function parseAccountDeactivateOptions(raw: RawAccountDeactivateOptions): Promise<AccountOptions> {
  const base = await parseAccountOptions(raw);
  if (raw.yes !== true) badOption('account deactivation cannot be undone (RFC 8555 §7.3.6): add --yes to confirm');
  return base;
}

/** Takes the store lock for the rest of the command. */
export async function lockFor(conn: ConnectionOptions, scope: RunScope): Promise<void> {
  const lock = await lockStore(conn.storeDir);
  scope.defer('store lock', () => lock.release());
}

/** Records the account URL next to its key when the store does not have it yet. */
async function rememberUrl(conn: ConnectionOptions, stored: StoredAccount, url: string): Promise<void> {
  if (stored.url !== url) await new CertStore(conn.storeDir).saveAccount(conn.directoryUrl, { keyPem: stored.keyPem, url });
}

/**
 * Registers the account (§7.3): makes the key (EC P-256, stored 0600) when the store has none, then
 * newAccount with `termsOfServiceAgreed`. On a key the CA already knows it answers that account
 * (§7.3.1), so running it again changes nothing.
 */
export async function runAccountRegister(opts: AccountRegisterOptions, io: CliIo): Promise<number> {
  const conn = opts.connection;
  const scope = new RunScope({ warn: io.err });
  return scope.run(async () => {
    await lockFor(conn, scope);
    const session = await openSession(conn, scope);
    let stored = await readStoredAccount(conn);
    const keyCreated = stored === undefined;
    const known = stored?.url !== undefined;
    if (stored === undefined) {
      // Stored before registering: if the CA's answer is lost, the next run finds the same account.
      const fresh = await newAccountKey();
      await new CertStore(conn.storeDir).saveAccount(conn.directoryUrl, { keyPem: fresh.keyPem });
      stored = { keyPem: fresh.keyPem, key: fresh.key, url: undefined, keyFile: accountKeyFile(conn) };
    }
    const client = session.client(stored.key);
    const eab = opts.eab === undefined ? undefined : await client.externalAccountBinding(opts.eab.kid, opts.eab.macKey);
    const account = await client.newAccount({
      termsOfServiceAgreed: true,
      ...(opts.contact.length > 0 ? { contact: opts.contact } : {}),
      ...(eab === undefined ? {} : { externalAccountBinding: eab }),
    });
    await rememberUrl(conn, stored, account.url);
    const view = accountView(account, stored.keyFile, await thumbprintOf(stored.key));
    const terms = session.directory.meta?.termsOfService;
    if (typeof terms === 'string') view.termsOfService = terms;
    const notes: string[] = [];
    const have = view.contact.join(',');
    if (known && opts.contact.length > 0 && opts.contact.join(',') !== have) {
      notes.push('note: this key already had an account, its contacts are unchanged (use `leec account update --email ...`)');
    }
    if (known && account.created === true) {
      notes.push(`note: the CA did not know the stored key any more and created a new account (the store named ${stored.url ?? '?'})`);
    }
    const heading = account.created === true ? 'account registered' : 'account already registered';
    printAccount(io, { heading, view, json: opts.json, extra: { keyCreated, created: account.created === true, notes }, notes });
    return 0;
  });
}

/** §7.3.1 onlyReturnExisting with the stored key: the account as the CA sees it. Nothing is created. */
export async function runAccountShow(opts: AccountOptions, io: CliIo): Promise<number> {
  const conn = opts.connection;
  await requireStoredAccount(conn); // before any request
  const scope = new RunScope({ warn: io.err });
  return scope.run(async () => {
    const session = await openSession(conn, scope);
    const stored = await requireStoredAccount(conn); // again: the session may have finished a rollover
    const account = await findAccount(session.client(stored.key));
    printAccount(io, { heading: 'account', view: accountView(account, stored.keyFile, await thumbprintOf(stored.key)), json: opts.json });
    return 0;
  });
}

/** §7.3.2: replaces the account's contacts. */
export async function runAccountUpdate(opts: AccountUpdateOptions, io: CliIo): Promise<number> {
  const conn = opts.connection;
  await requireStoredAccount(conn);
  const scope = new RunScope({ warn: io.err });
  return scope.run(async () => {
    await lockFor(conn, scope);
    const session = await openSession(conn, scope);
    const stored = await requireStoredAccount(conn); // again, under the lock and after the session
    const client = session.client(stored.key);
    const found = await findAccount(client);
    await rememberUrl(conn, stored, found.url);
    const account = await client.updateAccount({ contact: opts.contact });
    printAccount(io, { heading: 'account updated', view: accountView(account, stored.keyFile, await thumbprintOf(stored.key)), json: opts.json });
    return 0;
  });
}

/**
 * §7.3.6: deactivates the account. The CA then refuses every request signed for it; the key stays in
 * the store, so `account show` can still ask about it.
 */
export async function runAccountDeactivate(opts: AccountOptions, io: CliIo): Promise<number> {
  const conn = opts.connection;
  await requireStoredAccount(conn);
  const scope = new RunScope({ warn: io.err });
  return scope.run(async () => {
    await lockFor(conn, scope);
    const session = await openSession(conn, scope);
    const stored = await requireStoredAccount(conn); // again, under the lock and after the session
    const client = session.client(stored.key);
    await findAccount(client);
    const account = await client.deactivateAccount();
    printAccount(io, {
      heading: 'account deactivated',
      view: accountView(account, stored.keyFile, await thumbprintOf(stored.key)),
      json: opts.json,
      notes: ['the CA refuses every later request of this account (RFC 8555 §7.3.6)'],
    });
    return 0;
  });
}
