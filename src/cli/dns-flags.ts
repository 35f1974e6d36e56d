/**
 * The dns-01 flags of `leec issue`: `--dns-provider NAME`, `--dns-option key=value` (repeatable),
 * `--dns-resolver ip[:port]` (repeatable) and `--dns-timeout SECONDS`. The provider is built once here,
 * so its own option checks (a missing key, a credentials file that is not 0600, a command that is not
 * executable) fail before any request.
 */
import type { ChallengeType } from '../acme/challenges.js';
import { dnsProviderFromOptions, DNS_PROVIDERS } from '../dns/registry.js';
import type { Dns01Options } from '../options.js';
import { badOption as bad } from './connection-options.js';

export interface RawDnsFlags {
  dnsProvider?: string;
  dnsOption?: string[];
  dnsResolver?: string[];
  dnsTimeout?: string;
}

/** `key=value` pairs → an object; the value may contain `=`, a key may not repeat. */
export function parseKeyValues(flag: string, pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? '' : pair.slice(0, eq).trim();
    if (key === '') bad(`${flag} must be key=value, got ${JSON.stringify(pair)}`, { [flag]: pair });
    if (Object.hasOwn(out, key)) bad(`${flag} ${key} is given twice`, { [flag]: key });
    out[key] = pair.slice(eq + 1);
  }
  return out;
}

export async function parseDns01Flags(raw: RawDnsFlags, challenge: ChallengeType): Promise<Dns01Options | undefined> {
  const any = raw.dnsProvider !== undefined || (raw.dnsOption ?? []).length > 0 || (raw.dnsResolver ?? []).length > 0 || raw.dnsTimeout !== undefined;
  if (challenge !== 'dns-01') {
    if (any) bad('the --dns-* flags need --challenge dns-01');
    return undefined;
  }
  if (raw.dnsProvider === undefined) bad(`--challenge dns-01 needs --dns-provider (${DNS_PROVIDERS.join(', ')})`);
  const options = parseKeyValues('--dns-option', raw.dnsOption ?? []);
  await dnsProviderFromOptions(raw.dnsProvider, options); // its checks, now; nothing is sent
  let timeoutMs: number | undefined;
  if (raw.dnsTimeout !== undefined) {
    const s = Number(raw.dnsTimeout);
    if (!/^\d+$/.test(raw.dnsTimeout) || s < 1 || s > 3600) bad(`--dns-timeout must be 1..3600 seconds, got ${JSON.stringify(raw.dnsTimeout)}`);
    timeoutMs = s * 1000;
  }
  const servers = raw.dnsResolver ?? [];
  const propagation: NonNullable<Exclude<Dns01Options['propagation'], false>> = {};
  if (servers.length > 0) propagation.servers = servers;
  if (timeoutMs !== undefined) propagation.timeoutMs = timeoutMs;
  return { provider: { name: raw.dnsProvider, options }, propagation };
}
