/**
 * How the account commands print an account (RFC 8555 §7.1.2): aligned lines for people, or one JSON
 * object (`--json`) for scripts. Never prints key material: only the key file's path and the public
 * key's thumbprint.
 */
import type { Account } from '../acme/types.js';
import type { CliIo } from './io.js';

/** What an account command reports. */
export interface AccountView {
  /** The account URL (the JWS `kid`, §6.2). */
  url: string;
  status: string;
  contact: string[];
  /** §7.1.2.1 the orders list URL, when the CA sends it. */
  orders?: string;
  /** The stored key file. */
  keyFile: string;
  /** RFC 7638 thumbprint of the account's public key. */
  thumbprint: string;
  /** The CA's terms of service (directory `meta.termsOfService`), when reported. */
  termsOfService?: string;
}

/** The view of an account object and its key. */
export function accountView(account: Account, keyFile: string, thumbprint: string): AccountView {
  const view: AccountView = { url: account.url, status: account.status, contact: [...(account.contact ?? [])], keyFile, thumbprint };
  const orders = (account as { orders?: unknown }).orders;
  if (typeof orders === 'string') view.orders = orders;
  return view;
}

/**
 * Prints `view` under `heading` (e.g. `account registered`), or as JSON with `extra` fields merged in.
 * `notes` are extra human lines (not in the JSON).
 */
export function printAccount(
  io: CliIo,
  opts: { heading: string; view: AccountView; json: boolean; extra?: Record<string, unknown>; notes?: string[] },
): void {
  const { view } = opts;
  if (opts.json) {
    io.out(JSON.stringify({ ...view, ...opts.extra }, null, 2));
    return;
  }
  io.out(`${opts.heading}: ${view.url}`);
  const rows: Array<[string, string]> = [
    ['status', view.status],
    ['contacts', view.contact.length > 0 ? view.contact.join(', ') : '(none)'],
  ];
  if (view.orders !== undefined) rows.push(['orders', view.orders]);
  rows.push(['key', view.keyFile], ['thumbprint', view.thumbprint]);
  if (view.termsOfService !== undefined) rows.push(['terms', `${view.termsOfService} (agreed)`]);
  for (const [k, v] of rows) io.out(`  ${k.padEnd(11)}${v}`);
  for (const note of opts.notes ?? []) io.out(note);
}
