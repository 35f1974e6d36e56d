/**
 * The `ovh` dns-01 provider (RFC 8555 §8.4): publishes the TXT value through OVH's API v1, with the
 * calls and rights LEEC's manual lists for its certbot-dns-ovh set-up:
 *
 * - present: `POST /domain/zone/{zone}/record {fieldType: "TXT", subDomain, target, ttl}`, then
 *   `POST /domain/zone/{zone}/refresh` (OVH publishes a zone's changes only at a refresh);
 * - cleanup: `GET /domain/zone/{zone}/record?fieldType=TXT&subDomain=…` (record ids), `GET` each id,
 *   `DELETE` the records whose target is our value (OVH may return a TXT target quoted), then a refresh.
 *   Other TXT values on the same name stay; no matching record is not an error.
 * - the zone: the `zone` option, else the longest suffix of the record's name among `GET /domain/zone`.
 *
 * The token needs: GET /domain/zone, GET /domain/zone/ZONE/record, GET /domain/zone/ZONE/record/*,
 * POST /domain/zone/ZONE/record, POST /domain/zone/ZONE/refresh, DELETE /domain/zone/ZONE/record/*.
 *
 * Every request is signed (ovh-signature.ts) with the server's clock: `GET /auth/time` once per provider,
 * and the delta to the local clock is kept. The credentials come from a file (ovh-credentials.ts: LEEC's
 * format, mode 0600 or stricter, owned by the user), read and checked when the provider is created.
 * An API answer other than 2xx is a `DnsError` (`ERR_DNS_PROVIDER`, step `dns`) with data
 * `{ status, ovhErrorCode, ovhMessage, queryId, method, path }`; the keys never appear in errors.
 * Redirects are not followed (they would carry the consumer key elsewhere).
 */
import { DnsError, ErrorCode, InvalidInputError } from '../errors.js';
import { readOvhCredentials, type OvhCredentials } from './ovh-credentials.js';
import { ovhAuthHeaders } from './ovh-signature.js';
import type { Dns01Provider, Dns01Record } from './provider.js';

/** Options of {@link createOvhProvider}. */
export interface OvhProviderOptions {
  /**
   * `ovh-eu`, `ovh-ca`, `ovh-us`, or the API's base URL (`https://eu.api.ovh.com/1.0`); `http://` only on a
   * loopback host (tests). Default: `dns_ovh_endpoint` from the credentials file; one of the two is required.
   */
  endpoint?: string;
  /** Path of the credentials file (see ovh-credentials.ts). */
  credentialsFile: string;
  /** The OVH zone holding the names (`example.com`). Default: found with `GET /domain/zone`. */
  zone?: string;
  /** TTL of the TXT records, in seconds. Default {@link DEFAULT_OVH_TTL}. */
  ttl?: number;
}

/** The API roots of OVH's regions, as OVH's clients name them. */
export const OVH_ENDPOINTS: Readonly<Record<string, string>> = {
  'ovh-eu': 'https://eu.api.ovh.com/1.0',
  'ovh-ca': 'https://ca.api.ovh.com/1.0',
  'ovh-us': 'https://api.us.ovhcloud.com/1.0',
};

export const DEFAULT_OVH_TTL = 60;
const MAX_TTL = 604_800;
const REQUEST_TIMEOUT_MS = 30_000;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const ZONE_NAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

function invalid(message: string, data: Record<string, unknown>): InvalidInputError {
  return new InvalidInputError(ErrorCode.invalidOption, `ovh provider: ${message}`, { step: 'input', data: { provider: 'ovh', ...data } });
}

/** The API base URL (no trailing slash) for an endpoint name or URL. */
function resolveEndpoint(endpoint: string): string {
  const named = OVH_ENDPOINTS[endpoint];
  if (named !== undefined) return named;
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw invalid(`endpoint must be one of ${Object.keys(OVH_ENDPOINTS).join(', ')} or an https:// URL`, { option: 'endpoint' });
  }
  const loopback = LOOPBACK_HOSTS.has(u.hostname);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) {
    throw invalid('endpoint URL must be https:// (http:// only on a loopback host)', { option: 'endpoint' });
  }
  if (u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '') {
    throw invalid('endpoint URL must not carry credentials, a query or a fragment', { option: 'endpoint' });
  }
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

function checkZone(zone: unknown): string | undefined {
  if (zone === undefined) return undefined;
  const z = typeof zone === 'string' ? zone.toLowerCase().replace(/\.$/, '') : '';
  if (!ZONE_NAME.test(z)) throw invalid('zone must be a DNS name such as example.com', { option: 'zone' });
  return z;
}

function checkTtl(ttl: unknown): number {
  if (ttl === undefined) return DEFAULT_OVH_TTL;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL) {
    throw invalid(`ttl must be an integer from 0 to ${MAX_TTL} seconds`, { option: 'ttl' });
  }
  return ttl;
}

/** A TXT target as OVH may return it (`"value"`), without its quotes. */
function unquoteTarget(target: unknown): string {
  if (typeof target !== 'string') return '';
  const t = target.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

/** `_acme-challenge.a.example.com.` → `_acme-challenge.a.example.com` (what OVH's names are compared to). */
function recordName(record: Dns01Record): string {
  return record.fqdn.toLowerCase().replace(/\.$/, '');
}

function inZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

/** OVH's error document: `{"errorCode":"INVALID_SIGNATURE","httpCode":"400 Bad Request","message":"Invalid signature"}`. */
interface OvhErrorBody {
  errorCode?: unknown;
  message?: unknown;
}

/**
 * Creates the OVH provider. Reads and checks the credentials file and the options first; a problem is an
 * `InvalidInputError` (`ERR_INVALID_OPTION`, step `input`) and nothing is sent.
 */
export function createOvhProvider(options: OvhProviderOptions): Dns01Provider {
  if (typeof options.credentialsFile !== 'string' || options.credentialsFile === '') {
    throw invalid('credentialsFile must be the path of the credentials file', { option: 'credentialsFile' });
  }
  if (options.endpoint !== undefined && typeof options.endpoint !== 'string') throw invalid('endpoint must be a string', { option: 'endpoint' });
  const configuredZone = checkZone(options.zone);
  const ttl = checkTtl(options.ttl);
  const givenBase = options.endpoint === undefined ? undefined : resolveEndpoint(options.endpoint);
  const creds: OvhCredentials = readOvhCredentials(options.credentialsFile);
  if (givenBase === undefined && creds.endpoint === undefined) {
    throw invalid('no endpoint: give the endpoint option or dns_ovh_endpoint in the credentials file', { option: 'endpoint' });
  }
  const base = givenBase ?? resolveEndpoint(creds.endpoint!);
  const secrets = [creds.applicationSecret, creds.consumerKey, creds.applicationKey];

  /** Removes any credential from text the API sent back, before it goes into an error. */
  const redact = (text: string): string => secrets.reduce((t, s) => t.split(s).join('[redacted]'), text);

  function apiError(method: string, path: string, message: string, data: Record<string, unknown>): DnsError {
    return new DnsError(ErrorCode.dnsProvider, `ovh provider: ${method} ${path}: ${message}`, {
      step: 'dns',
      data: { provider: 'ovh', method, path, ...data },
    });
  }

  async function send(method: string, path: string, body: unknown, auth: boolean, timestamp: () => Promise<number>): Promise<unknown> {
    const url = new URL(`${base}${path}`).href;
    const bodyText = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = { Accept: 'application/json', 'X-Ovh-Application': creds.applicationKey };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth) {
      Object.assign(headers, ovhAuthHeaders({ ...creds, method, url, body: bodyText, timestamp: await timestamp() }));
    }
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: bodyText }),
        redirect: 'manual',
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: unknown } };
      const cause = typeof e.cause?.code === 'string' ? e.cause.code : e.name;
      throw apiError(method, path, `request failed (${cause})`, { cause });
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw apiError(method, path, `reading the answer failed (${(err as Error).name})`, { status: res.status });
    }
    let parsed: unknown = null;
    let parseFailed = false;
    if (text.trim() !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parseFailed = true;
      }
    }
    if (res.status < 200 || res.status >= 300) {
      const doc: OvhErrorBody = typeof parsed === 'object' && parsed !== null ? (parsed as OvhErrorBody) : {};
      const ovhErrorCode = typeof doc.errorCode === 'string' ? redact(doc.errorCode) : undefined;
      const ovhMessage = typeof doc.message === 'string' ? redact(doc.message).slice(0, 500) : undefined;
      const queryId = res.headers.get('x-ovh-queryid') ?? undefined;
      throw apiError(method, path, `HTTP ${res.status}${ovhErrorCode !== undefined ? ` ${ovhErrorCode}` : ''}${ovhMessage !== undefined ? `: ${ovhMessage}` : ''}`, {
        status: res.status,
        ...(ovhErrorCode !== undefined ? { ovhErrorCode } : {}),
        ...(ovhMessage !== undefined ? { ovhMessage } : {}),
        ...(queryId !== undefined ? { queryId } : {}),
      });
    }
    if (parseFailed) throw apiError(method, path, 'the answer is not JSON', { status: res.status });
    return parsed;
  }

  // The server clock: read once (GET /auth/time, unsigned), then local time plus the delta. A failed
  // read is retried at the next request.
  let delta: Promise<number> | undefined;
  const serverTime = async (): Promise<number> => {
    if (delta === undefined) {
      const p = send('GET', '/auth/time', undefined, false, () => Promise.resolve(0)).then((t) => {
        if (typeof t !== 'number' || !Number.isInteger(t)) throw apiError('GET', '/auth/time', 'the answer is not a Unix time', {});
        return t - Math.floor(Date.now() / 1000);
      });
      delta = p;
      p.catch(() => {
        if (delta === p) delta = undefined;
      });
    }
    return Math.floor(Date.now() / 1000) + (await delta);
  };

  const call = (method: string, path: string, body?: unknown): Promise<unknown> => send(method, path, body, true, serverTime);

  async function zoneFor(name: string): Promise<string> {
    if (configuredZone !== undefined) {
      if (!inZone(name, configuredZone)) {
        throw new DnsError(ErrorCode.dnsProvider, `ovh provider: ${name} is not in zone ${configuredZone}`, {
          step: 'dns',
          data: { provider: 'ovh', fqdn: `${name}.`, zone: configuredZone },
        });
      }
      return configuredZone;
    }
    const zones = await call('GET', '/domain/zone');
    if (!Array.isArray(zones)) throw apiError('GET', '/domain/zone', 'the answer is not a list of zones', {});
    let best: string | undefined;
    for (const z of zones) {
      if (typeof z !== 'string') continue;
      const zone = z.toLowerCase().replace(/\.$/, '');
      if (inZone(name, zone) && (best === undefined || zone.length > best.length)) best = zone;
    }
    if (best === undefined) {
      throw new DnsError(ErrorCode.dnsProvider, `ovh provider: no zone of this OVH account holds ${name}`, {
        step: 'dns',
        data: { provider: 'ovh', fqdn: `${name}.`, zones: zones.length },
      });
    }
    return best;
  }

  const zonePath = (zone: string): string => `/domain/zone/${encodeURIComponent(zone)}`;
  const subDomainOf = (name: string, zone: string): string => (name === zone ? '' : name.slice(0, -(zone.length + 1)));

  async function present(record: Dns01Record): Promise<void> {
    const name = recordName(record);
    const zone = await zoneFor(name);
    await call('POST', `${zonePath(zone)}/record`, { fieldType: 'TXT', subDomain: subDomainOf(name, zone), target: record.value, ttl });
    await call('POST', `${zonePath(zone)}/refresh`);
  }

  async function cleanup(record: Dns01Record): Promise<void> {
    const name = recordName(record);
    const zone = await zoneFor(name);
    const query = new URLSearchParams({ fieldType: 'TXT', subDomain: subDomainOf(name, zone) }).toString();
    const ids = await call('GET', `${zonePath(zone)}/record?${query}`);
    if (!Array.isArray(ids)) throw apiError('GET', `${zonePath(zone)}/record`, 'the answer is not a list of record ids', {});
    let deleted = 0;
    for (const id of ids) {
      if (typeof id !== 'number' && typeof id !== 'string') continue;
      const recPath = `${zonePath(zone)}/record/${encodeURIComponent(String(id))}`;
      const rec = (await call('GET', recPath)) as { target?: unknown; fieldType?: unknown } | null;
      if (rec === null || typeof rec !== 'object' || rec.fieldType !== 'TXT' || unquoteTarget(rec.target) !== record.value) continue;
      await call('DELETE', recPath);
      deleted++;
    }
    if (deleted > 0) await call('POST', `${zonePath(zone)}/refresh`);
  }

  return { name: 'ovh', present, cleanup };
}

/**
 * The OVH provider from the CLI's `--dns-option key=value` pairs: `credentialsFile=PATH` (required),
 * `endpoint=ovh-eu|ovh-ca|ovh-us|URL`, `zone=example.com`, `ttl=SECONDS`. Any other key is an
 * `InvalidInputError` before the file is read or anything is sent.
 */
export function ovhFromOptions(raw: Record<string, string>): Dns01Provider {
  const known = ['endpoint', 'credentialsFile', 'zone', 'ttl'];
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) throw invalid(`unknown option ${JSON.stringify(key)} (known: ${known.join(', ')})`, { option: key });
  }
  if (raw.credentialsFile === undefined) throw invalid('option credentialsFile is required', { option: 'credentialsFile' });
  const opts: OvhProviderOptions = { credentialsFile: raw.credentialsFile };
  if (raw.endpoint !== undefined) opts.endpoint = raw.endpoint;
  if (raw.zone !== undefined) opts.zone = raw.zone;
  if (raw.ttl !== undefined) {
    if (!/^[0-9]+$/.test(raw.ttl)) throw invalid('ttl must be a whole number of seconds', { option: 'ttl' });
    opts.ttl = Number(raw.ttl);
  }
  return createOvhProvider(opts);
}
