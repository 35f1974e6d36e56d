/**
 * Hot certificates for an embedding TLS server: one SecureContext per issued certificate,
 * looked up by SNI name. Swapping a certificate affects only new handshakes; open connections
 * keep theirs. It reads no files and renews nothing (the supervisor calls `set`).
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { ErrorCode, InvalidInputError } from '../errors.js';

function normalizeName(name: string): string {
  const n = name.trim().toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/** SNI name → SecureContext, for `https.createServer({ SNICallback: cache.sniCallback })`. */
export class CertificateCache {
  readonly #contexts = new Map<string, SecureContext>();

  /**
   * Builds one SecureContext from the PEMs and maps each lowercased name to it (`*.example.com`
   * entries serve one-label-deep names). Each name is one map assignment, so a replacement is
   * seen by the next handshake. Throws InvalidInputError if the PEMs are unusable, leaving the cache unchanged.
   */
  set(names: string[], pems: { fullchainPem: string; keyPem: string }): void {
    let ctx: SecureContext;
    try {
      ctx = createSecureContext({ cert: pems.fullchainPem, key: pems.keyPem });
    } catch (err) {
      throw new InvalidInputError(ErrorCode.invalidOption, 'certificate or key PEM is not usable for TLS', { cause: err });
    }
    for (const name of names) this.#contexts.set(normalizeName(name), ctx);
  }

  /** The context for `servername`: exact (case-insensitive) match, else the `*.<parent>` entry. */
  get(servername: string): SecureContext | undefined {
    const name = normalizeName(servername);
    const exact = this.#contexts.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    if (dot <= 0 || dot === name.length - 1) return undefined;
    return this.#contexts.get(`*${name.slice(dot)}`);
  }

  /** Forgets `names`; open connections are not affected. */
  delete(names: string[]): void {
    for (const name of names) this.#contexts.delete(normalizeName(name));
  }

  /** The names held, sorted. */
  names(): string[] {
    return [...this.#contexts.keys()].sort();
  }

  /**
   * Node's SNICallback. Unknown names get `cb(null, undefined)` so the server's default
   * certificate (if any) applies. An arrow property, so it can be passed without binding.
   */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    cb(null, this.get(servername));
  };
}
