/**
 * The built-in dns-01 providers by name, built from string options (the CLI's `--dns-option key=value`,
 * or `dns01: { provider: { name, options } }`). Each provider module is loaded on first use.
 */
import { ErrorCode, InvalidInputError } from '../errors.js';
import type { Dns01Provider } from './provider.js';

/** The providers leec ships. */
export const DNS_PROVIDERS = ['rfc2136', 'exec', 'ovh', 'challtestsrv'] as const;
export type DnsProviderName = (typeof DNS_PROVIDERS)[number];

export function isDnsProviderName(name: unknown): name is DnsProviderName {
  return typeof name === 'string' && (DNS_PROVIDERS as readonly string[]).includes(name);
}

/** Builds a built-in provider; bad names or options reject with InvalidInputError before any request. */
export async function dnsProviderFromOptions(name: string, options: Record<string, string>): Promise<Dns01Provider> {
  switch (name) {
    case 'rfc2136':
      return (await import('./rfc2136.js')).rfc2136FromOptions(options);
    case 'exec':
      return (await import('./exec.js')).execFromOptions(options);
    case 'ovh':
      return (await import('./ovh.js')).ovhFromOptions(options);
    case 'challtestsrv':
      return (await import('./challtestsrv.js')).challtestsrvFromOptions(options);
    default:
      throw new InvalidInputError(ErrorCode.invalidOption, `unknown dns-01 provider ${JSON.stringify(name)}; use one of ${DNS_PROVIDERS.join(', ')}, or pass your own`, {
        step: 'input',
        data: { provider: name },
      });
  }
}

/** A provider object as is; a built-in one by name, built from its options. */
export async function resolveDnsProvider(p: Dns01Provider | { name: string; options: Record<string, string> }): Promise<Dns01Provider> {
  return 'present' in p ? p : dnsProviderFromOptions(p.name, p.options);
}
