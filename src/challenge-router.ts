/**
 * The main thread's side of challenge publishing: agents ask, through the HostApi, for a response to be
 * published, and this routes it by type to what serves it: the http-01 ChallengeStore (and webroot), the
 * dns-01 provider, or the tls-alpn-01 certificate store (RFC 8555 §8.3, §8.4; RFC 8737 §3). A failing
 * dns-01 provider (the user's own included) comes back as a typed DnsError.
 */
import type { PresentedChallenge, WithdrawnChallenge } from './acme/challenges.js';
import type { Dns01Provider, Dns01Record } from './dns/provider.js';
import { DnsError, ErrorCode, InvalidInputError, LeecError } from './errors.js';
import type { ChallengeStore } from './responder/challenge-store.js';
import type { TlsAlpn01Store } from './responder/tls-alpn01-store.js';
import type { WebrootPublisher } from './responder/webroot.js';

export interface ChallengeRouterDeps {
  http01: ChallengeStore;
  webroot: WebrootPublisher | undefined;
  dns01: Dns01Provider | undefined;
  tlsAlpn01: TlsAlpn01Store | undefined;
}

export class ChallengeRouter {
  readonly #deps: ChallengeRouterDeps;

  constructor(deps: ChallengeRouterDeps) {
    this.#deps = deps;
  }

  /** The challenge types this supervisor can publish. */
  supports(type: PresentedChallenge['type']): boolean {
    if (type === 'dns-01') return this.#deps.dns01 !== undefined;
    if (type === 'tls-alpn-01') return this.#deps.tlsAlpn01 !== undefined;
    return true;
  }

  async present(c: PresentedChallenge): Promise<void> {
    switch (c.type) {
      case 'http-01':
        await this.#deps.http01.present(c);
        await this.#deps.webroot?.present(c);
        return;
      case 'dns-01': {
        const provider = this.#provider();
        const record = toRecord(c.host, c.fqdn, c.value);
        await providerCall(provider, 'present', () => provider.present(record));
        if (provider.wait) await providerCall(provider, 'wait', () => provider.wait!(record));
        return;
      }
      case 'tls-alpn-01':
        this.#tlsAlpn().present({ host: c.host, certPem: c.certPem, keyPem: c.keyPem });
        return;
    }
  }

  async cleanup(c: WithdrawnChallenge): Promise<void> {
    switch (c.type) {
      case 'http-01':
        await this.#deps.http01.cleanup(c);
        await this.#deps.webroot?.cleanup(c);
        return;
      case 'dns-01': {
        if (c.fqdn === undefined || c.value === undefined) return;
        const provider = this.#provider();
        const record = toRecord(c.host, c.fqdn, c.value);
        await providerCall(provider, 'cleanup', () => provider.cleanup(record));
        return;
      }
      case 'tls-alpn-01':
        this.#deps.tlsAlpn01?.cleanup(c.certPem === undefined ? { host: c.host } : { host: c.host, certPem: c.certPem });
        return;
    }
  }

  #provider(): Dns01Provider {
    if (!this.#deps.dns01) throw notConfigured('dns-01', 'dns01.provider');
    return this.#deps.dns01;
  }

  #tlsAlpn(): TlsAlpn01Store {
    if (!this.#deps.tlsAlpn01) throw notConfigured('tls-alpn-01', 'tlsAlpn01');
    return this.#deps.tlsAlpn01;
  }
}

function toRecord(host: string, fqdn: string, value: string): Dns01Record {
  return { domain: host, fqdn, value };
}

function notConfigured(type: string, option: string): InvalidInputError {
  return new InvalidInputError(ErrorCode.invalidOption, `${type} needs the supervisor option ${option}`, { step: 'input', data: { challenge: type, option } });
}

/** A provider's own failure (a plain Error from a user's provider, say) becomes a typed DnsError. */
async function providerCall(provider: Dns01Provider, action: string, call: () => Promise<void>): Promise<void> {
  try {
    await call();
  } catch (e) {
    if (e instanceof LeecError) throw e;
    throw new DnsError(ErrorCode.dnsProvider, `dns-01 provider ${provider.name} failed to ${action}: ${e instanceof Error ? e.message : String(e)}`, {
      step: 'dns',
      cause: e,
      data: { provider: provider.name, action },
    });
  }
}
