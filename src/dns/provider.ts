/**
 * The dns-01 provider interface (RFC 8555 §8.4): what leec asks of any DNS host. A provider puts one TXT
 * value at `_acme-challenge.<name>` and takes exactly that value away again; it never replaces the
 * record set, because a wildcard and its apex (`*.example.test` + `example.test`) need two values on the
 * same name at once, and another client may have its own there.
 *
 * Providers run on the supervisor's main thread (they hold credentials, and a user's own provider is a
 * function, which cannot cross to a worker thread); agents reach them through the HostApi.
 */

/** One TXT value to publish for one authorization. */
export interface Dns01Record {
  /** The identifier being validated, without `*.`: `example.test` for both `example.test` and `*.example.test`. */
  domain: string;
  /** The record's fully qualified name, with the trailing dot: `_acme-challenge.example.test.` (§8.4). */
  fqdn: string;
  /** base64url(SHA-256(key authorization)), unpadded (§8.4). */
  value: string;
}

export interface Dns01Provider {
  /** A short name for logs and errors: `rfc2136`, `exec`, `ovh`, `challtestsrv`, or the user's own. */
  readonly name: string;
  /** Adds this TXT value next to any other value on the name. Resolves once the provider has accepted it. */
  present(record: Dns01Record): Promise<void>;
  /** Removes this value only (other values on the name stay). Must not fail when the value is absent. */
  cleanup(record: Dns01Record): Promise<void>;
  /**
   * Optional: resolves when the provider's own side has published the change (e.g. a zone refresh at a
   * DNS host's API). leec's propagation check at the authoritative servers runs after it.
   */
  wait?(record: Dns01Record): Promise<void>;
}

/** The name a dns-01 TXT record lives at (§8.4), with the trailing dot. `*.` is dropped (§7.1.3). */
export function challengeRecordName(identifier: string): string {
  const domain = identifier.startsWith('*.') ? identifier.slice(2) : identifier;
  return `_acme-challenge.${domain}.`;
}
