/**
 * The `challtestsrv` dns-01 provider (RFC 8555 §8.4), for tests and the demo: Pebble's companion DNS
 * server `pebble-challtestsrv`, driven through its management API (no authentication: test use only).
 *
 * What pebble-challtestsrv 2.4.0 does (seen on the real binary, and in letsencrypt/challtestsrv's
 * `AddDNSOneChallenge` / `DeleteDNSOneChallenge`):
 * - `POST /set-txt {"host": "<fqdn>", "value": "<v>"}` ADDS a value to the host (it does not replace
 *   it): two values on one name are both answered, and setting the same value twice answers it twice.
 * - `POST /clear-txt {"host": "<fqdn>"}` removes EVERY value of the host (a `value` field is ignored).
 * - there is no call that removes a single value (`/del-txt`, `/add-txt` answer 404).
 * - the host must be lower case with the trailing dot, or DNS queries do not match it.
 *
 * So, to take one value away and keep the others (a wildcard and its apex share `_acme-challenge.<name>`),
 * this provider remembers the values it set per host, and cleanup clears the host and sets the remaining
 * ones again. Operations on one host run one after another. Values put on the same host by someone else
 * through the management API are lost at such a cleanup, and a value this provider did not set (e.g.
 * before a restart) is left alone: cleanup of an unknown value sends nothing.
 */
import { DnsError, ErrorCode, InvalidInputError } from '../errors.js';
import type { Dns01Provider, Dns01Record } from './provider.js';

/** Options of {@link createChalltestsrvProvider}. */
export interface ChalltestsrvProviderOptions {
  /** The management API, e.g. `http://127.0.0.1:8055` (PebbleInstance.challtestsrvUrl). */
  url: string;
}

const REQUEST_TIMEOUT_MS = 10_000;

function invalid(message: string, data: Record<string, unknown>): InvalidInputError {
  return new InvalidInputError(ErrorCode.invalidOption, `challtestsrv provider: ${message}`, {
    step: 'input',
    data: { provider: 'challtestsrv', ...data },
  });
}

function checkUrl(url: unknown): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    throw invalid('url must be the management API URL, e.g. http://127.0.0.1:8055', { option: 'url' });
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '') {
    throw invalid('url must be an http:// or https:// URL without credentials, query or fragment', { option: 'url' });
  }
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/** challtestsrv's key for a record: lower case, with the trailing dot. */
function hostOf(record: Dns01Record): string {
  const h = record.fqdn.toLowerCase();
  return h.endsWith('.') ? h : `${h}.`;
}

/**
 * Creates the challtestsrv provider. A bad `url` is an `InvalidInputError` (`ERR_INVALID_OPTION`, step
 * `input`) and nothing is sent. Failed management calls are `DnsError` (`ERR_DNS_PROVIDER`, step `dns`).
 */
export function createChalltestsrvProvider(options: ChalltestsrvProviderOptions): Dns01Provider {
  const base = checkUrl(options.url);
  /** host → the values this provider has set there, in order. */
  const values = new Map<string, string[]>();
  /** host → the tail of its queue of operations. */
  const queues = new Map<string, Promise<void>>();

  async function post(path: '/set-txt' | '/clear-txt', body: Record<string, string>): Promise<void> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: unknown } };
      const cause = typeof e.cause?.code === 'string' ? e.cause.code : e.name;
      throw new DnsError(ErrorCode.dnsProvider, `challtestsrv provider: POST ${path} failed (${cause})`, {
        step: 'dns',
        data: { provider: 'challtestsrv', path, host: body.host, cause },
      });
    }
    const text = (await res.text().catch(() => '')).slice(0, 200);
    if (res.status !== 200) {
      throw new DnsError(ErrorCode.dnsProvider, `challtestsrv provider: POST ${path} answered HTTP ${res.status}`, {
        step: 'dns',
        data: { provider: 'challtestsrv', path, host: body.host, status: res.status, body: text },
      });
    }
  }

  /** Runs `op` after every earlier operation on `host`, whatever their outcome. */
  function serialized(host: string, op: () => Promise<void>): Promise<void> {
    const prev = queues.get(host) ?? Promise.resolve();
    const next = prev.then(op, op);
    const tail = next.catch(() => undefined);
    queues.set(host, tail);
    void tail.then(() => {
      if (queues.get(host) === tail) queues.delete(host);
    });
    return next;
  }

  function present(record: Dns01Record): Promise<void> {
    const host = hostOf(record);
    return serialized(host, async () => {
      const mine = values.get(host) ?? [];
      if (mine.includes(record.value)) return; // already answered: a second set-txt would answer it twice
      await post('/set-txt', { host, value: record.value });
      values.set(host, [...mine, record.value]);
    });
  }

  function cleanup(record: Dns01Record): Promise<void> {
    const host = hostOf(record);
    return serialized(host, async () => {
      const mine = values.get(host) ?? [];
      if (!mine.includes(record.value)) return;
      const rest = mine.filter((v) => v !== record.value);
      await post('/clear-txt', { host });
      values.set(host, []);
      for (const v of rest) {
        await post('/set-txt', { host, value: v });
        values.get(host)!.push(v);
      }
      if (values.get(host)!.length === 0) values.delete(host);
    });
  }

  return { name: 'challtestsrv', present, cleanup };
}

/**
 * The challtestsrv provider from the CLI's `--dns-option key=value` pairs: `url=http://127.0.0.1:PORT`
 * (required). Any other key is an `InvalidInputError` before anything is sent.
 */
export function challtestsrvFromOptions(raw: Record<string, string>): Dns01Provider {
  for (const key of Object.keys(raw)) {
    if (key !== 'url') throw invalid(`unknown option ${JSON.stringify(key)} (known: url)`, { option: key });
  }
  if (raw.url === undefined) throw invalid('option url is required', { option: 'url' });
  return createChalltestsrvProvider({ url: raw.url });
}
