/**
 * Hot certificates for an embedding TLS server: one SecureContext per issued certificate,
 * looked up by SNI name. Swapping a certificate affects only new handshakes; open connections
 * keep theirs. It reads no files and renews nothing (the supervisor calls `set`).
 *
 * A pair the caller has already checked (the supervisor's come from CertStore, which checks the key
 * against the leaf on every save and load) gets its SecureContext at the first handshake that asks for
 * it: building one costs about a millisecond of main-thread CPU and holds an OpenSSL context, which a
 * server with many managed names need not pay for names nobody has asked for yet.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { ErrorCode, InvalidInputError } from '../errors.js';

function normalizeName(name: string): string {
  const n = name.trim().toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

function buildContext(pems: { fullchainPem: string; keyPem: string }): SecureContext {
  try {
    return createSecureContext({ cert: pems.fullchainPem, key: pems.keyPem });
  } catch (err) {
    throw new InvalidInputError(ErrorCode.invalidOption, 'certificate or key PEM is not usable for TLS', { cause: err });
  }
}

/**
 * One certificate, shared by all its names: its SecureContext, or until that is built its PEMs and the
 * entries it replaced, by name (served again if these PEMs turn out unusable). Both are dropped once it
 * is built.
 */
interface Entry {
  pems: { fullchainPem: string; keyPem: string } | undefined;
  context: SecureContext | undefined;
  replaced: Map<string, Entry> | undefined;
}

/** SNI name → SecureContext, for `https.createServer({ SNICallback: cache.sniCallback })`. */
export class CertificateCache {
  readonly #entries = new Map<string, Entry>();

  /**
   * Maps each lowercased name to one entry for these PEMs (`*.example.com` entries serve
   * one-label-deep names). Each name is one map assignment, so a replacement is seen by the next
   * handshake. By default the SecureContext is built now, and unusable PEMs throw InvalidInputError,
   * leaving the cache unchanged. With `checked: true` (the key is known to match the certificate, as
   * CertStore guarantees) it is built at the first `get` for one of the names.
   */
  set(names: string[], pems: { fullchainPem: string; keyPem: string }, opts: { checked?: boolean } = {}): void {
    const keys = names.map(normalizeName);
    const entry: Entry =
      opts.checked === true
        ? { pems: { fullchainPem: pems.fullchainPem, keyPem: pems.keyPem }, context: undefined, replaced: new Map(keys.flatMap((k) => {
            const before = this.#entries.get(k);
            return before ? [[k, before] as const] : [];
          })) }
        : { pems: undefined, context: buildContext(pems), replaced: undefined };
    for (const key of keys) this.#entries.set(key, entry);
  }

  /**
   * The context for `servername`: exact (case-insensitive) match, else the `*.<parent>` entry. Throws
   * InvalidInputError when a `checked` entry turns out to be unusable; its names then go back to the
   * entry it replaced, if any (the next handshake gets the previous certificate), or are dropped.
   */
  get(servername: string): SecureContext | undefined {
    const name = normalizeName(servername);
    let key = name;
    let entry = this.#entries.get(name);
    if (entry === undefined) {
      const dot = name.indexOf('.');
      if (dot <= 0 || dot === name.length - 1) return undefined;
      key = `*${name.slice(dot)}`;
      entry = this.#entries.get(key);
      if (entry === undefined) return undefined;
    }
    if (entry.context === undefined) {
      try {
        entry.context = buildContext(entry.pems!);
      } catch (err) {
        for (const [n, e] of this.#entries) {
          if (e !== entry) continue;
          const before = entry.replaced?.get(n);
          if (before) this.#entries.set(n, before);
          else this.#entries.delete(n);
        }
        throw err;
      }
      entry.pems = undefined;
      entry.replaced = undefined;
    }
    return entry.context;
  }

  /** Forgets `names`; open connections are not affected. */
  delete(names: string[]): void {
    for (const name of names) this.#entries.delete(normalizeName(name));
  }

  /** The names held, sorted. */
  names(): string[] {
    return [...this.#entries.keys()].sort();
  }

  /**
   * Node's SNICallback. Unknown names get `cb(null, undefined)` so the server's default
   * certificate (if any) applies; an entry that cannot be built fails that handshake. An arrow property, so it can be passed without binding.
   */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    let ctx: SecureContext | undefined;
    try {
      ctx = this.get(servername);
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb(null, ctx);
  };
}
