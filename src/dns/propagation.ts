/**
 * The dns-01 propagation check: before telling the CA to validate (RFC 8555 §7.5.1), wait until the TXT
 * value is served by every authoritative server of the zone (or by the servers given), since the CA
 * asks those (§8.4) and a secondary may lag its primary (RFC 1996 NOTIFY is only a hint).
 *
 * Queries go through node:dns `Resolver`, a fresh one per query so that nothing is answered from a
 * resolver cache; they ask the servers themselves, never a recursive resolver in between, except to find
 * the authoritative servers: walking up from the record name to the first name with NS records
 * (RFC 1034 §4.2: the zone cut), then resolving the NS names to addresses.
 */
import { Resolver } from 'node:dns/promises';
import { AbortedError, DnsError, ErrorCode, InvalidInputError } from '../errors.js';
import { normalizeName } from './dns-wire.js';

export interface WaitForTxtOptions {
  /** The record name, with or without the trailing dot: `_acme-challenge.example.com.`. */
  fqdn: string;
  /** The TXT value that must be among the answers. */
  value: string;
  /** Servers to ask, `ip:port` or `[v6]:port` (`ip` alone: port 53); default: the zone's authoritative servers. */
  servers?: string[];
  /** Overall deadline, discovery included. */
  timeoutMs: number;
  /** Pause between rounds of queries. */
  intervalMs: number;
  signal?: AbortSignal;
}

/** Most a single query waits (a shorter remaining time wins). */
const QUERY_TIMEOUT_MS = 2_000;

function aborted(): AbortedError {
  return new AbortedError(ErrorCode.aborted, 'stopped during dns', { step: 'dns' });
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(aborted());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(t);
      reject(aborted());
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs one query on a fresh resolver, cancelled on abort. */
async function withResolver<T>(servers: string[] | undefined, timeoutMs: number, signal: AbortSignal | undefined, q: (r: Resolver) => Promise<T>): Promise<T> {
  if (signal?.aborted) throw aborted();
  const r = new Resolver({ timeout: Math.max(1, Math.min(timeoutMs, QUERY_TIMEOUT_MS)), tries: 1 });
  if (servers !== undefined) r.setServers(servers);
  const onAbort = (): void => r.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await q(r);
  } catch (err) {
    if (signal?.aborted) throw aborted();
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

function errCode(err: unknown): string {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : 'unknown';
}

/** No such name or no such record: look one label up. Anything else is a failure to report. */
function isNoData(err: unknown): boolean {
  const c = errCode(err);
  return c === 'ENODATA' || c === 'ENOTFOUND';
}

function withPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * The authoritative servers of the zone holding `fqdn`: the NS set of the closest enclosing name that
 * has one, each NS name resolved to its IPv4 and IPv6 addresses, as `ip:port`.
 * @param opts.resolvers the resolvers to ask (`ip:port`); default the system's.
 * @param opts.port the port the found servers are asked on; default 53.
 * @throws DnsError `ERR_DNS_PROPAGATION` (data.reason `authoritativeServersNotFound`).
 */
export async function findAuthoritativeServers(
  fqdn: string,
  opts: { resolvers?: string[]; port?: number; timeoutMs: number; signal?: AbortSignal },
): Promise<string[]> {
  const abs = normalizeName(fqdn);
  if (abs === null) throw new InvalidInputError(ErrorCode.invalidDomain, `not a DNS name: ${JSON.stringify(fqdn)}`, { step: 'dns', data: { fqdn } });
  const deadline = Date.now() + opts.timeoutMs;
  const left = (): number => Math.max(1, deadline - Date.now());
  const fail = (reason: string, extra: Record<string, unknown> = {}): DnsError =>
    new DnsError(ErrorCode.dnsPropagation, `cannot find the authoritative DNS servers of ${abs}: ${reason}`, {
      step: 'dns',
      data: { fqdn: abs, reason: 'authoritativeServersNotFound', detail: reason, ...extra },
    });
  const labels = abs.slice(0, -1).split('.');
  let nsNames: string[] | undefined;
  let zone = '';
  for (let i = 0; i < labels.length && nsNames === undefined; i++) {
    const name = labels.slice(i).join('.');
    try {
      const ns = await withResolver(opts.resolvers, left(), opts.signal, (r) => r.resolveNs(name));
      if (ns.length > 0) {
        nsNames = ns;
        zone = `${name}.`;
      }
    } catch (err) {
      if (err instanceof AbortedError) throw err;
      if (!isNoData(err)) throw fail(`NS query for ${name} failed (${errCode(err)})`, { cause: errCode(err) });
    }
  }
  if (nsNames === undefined) throw fail('no NS records up to the root');
  const addresses = new Set<string>();
  for (const ns of nsNames) {
    for (const family of ['resolve4', 'resolve6'] as const) {
      try {
        const ips = await withResolver(opts.resolvers, left(), opts.signal, (r) => r[family](ns));
        for (const ip of ips) addresses.add(withPort(ip, opts.port ?? 53));
      } catch (err) {
        if (err instanceof AbortedError) throw err;
        // One family missing, or one NS name unresolvable, is fine while another gives an address.
      }
    }
  }
  if (addresses.size === 0) throw fail(`no address for the name servers of ${zone} (${nsNames.join(', ')})`, { zone, nameServers: nsNames });
  return [...addresses].sort();
}

/**
 * Resolves once `value` is among the TXT answers for `fqdn` at every server (each server counts once
 * it has shown the value). Without `servers`, asks every authoritative server of the zone (see
 * findAuthoritativeServers, through the system resolver).
 * @throws DnsError `ERR_DNS_PROPAGATION` with data `{ fqdn, servers, timeoutMs, pending }` at the deadline,
 *   AbortedError when `signal` aborts, InvalidInputError for bad options (before any query).
 */
export async function waitForTxt(opts: WaitForTxtOptions): Promise<void> {
  const abs = normalizeName(opts.fqdn);
  const bad = (option: string, message: string): InvalidInputError =>
    new InvalidInputError(ErrorCode.invalidOption, `waitForTxt: ${message}`, { step: 'dns', data: { option } });
  if (abs === null) throw bad('fqdn', `not a DNS name: ${JSON.stringify(String(opts.fqdn))}`);
  if (typeof opts.value !== 'string' || opts.value === '') throw bad('value', 'value must be a non-empty string');
  if (!Number.isInteger(opts.timeoutMs) || opts.timeoutMs < 1) throw bad('timeoutMs', 'timeoutMs must be a positive integer');
  if (!Number.isInteger(opts.intervalMs) || opts.intervalMs < 1) throw bad('intervalMs', 'intervalMs must be a positive integer');
  if (opts.servers !== undefined && (!Array.isArray(opts.servers) || opts.servers.length === 0)) throw bad('servers', 'servers must be a non-empty list');
  if (opts.servers !== undefined) {
    try {
      new Resolver().setServers(opts.servers); // validates the addresses, sends nothing
    } catch {
      throw bad('servers', `servers must be "ip:port" addresses, got ${JSON.stringify(opts.servers)}`);
    }
  }
  if (opts.signal?.aborted) throw aborted();

  const deadline = Date.now() + opts.timeoutMs;
  const servers =
    opts.servers ??
    (await findAuthoritativeServers(abs, { timeoutMs: opts.timeoutMs, ...(opts.signal === undefined ? {} : { signal: opts.signal }) }));
  const pending = new Set(servers);
  const lastSeen = new Map<string, string>();
  for (;;) {
    await Promise.all(
      [...pending].map(async (server) => {
        try {
          const records = await withResolver([server], deadline - Date.now(), opts.signal, (r) => r.resolveTxt(abs));
          if (records.some((chunks) => chunks.join('') === opts.value)) pending.delete(server);
          else lastSeen.set(server, records.length === 0 ? 'no TXT values' : `${records.length} other TXT value(s)`);
        } catch (err) {
          if (err instanceof AbortedError) throw err;
          lastSeen.set(server, errCode(err));
        }
      }),
    );
    if (pending.size === 0) return;
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new DnsError(ErrorCode.dnsPropagation, `the TXT value at ${abs} was not seen at ${[...pending].join(', ')} within ${opts.timeoutMs} ms`, {
        step: 'dns',
        data: { fqdn: abs, servers, timeoutMs: opts.timeoutMs, pending: [...pending], lastSeen: Object.fromEntries(lastSeen) },
      });
    }
    await sleep(Math.min(opts.intervalMs, left), opts.signal);
  }
}
