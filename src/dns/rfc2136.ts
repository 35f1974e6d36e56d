/**
 * The `rfc2136` dns-01 provider: adds and removes the `_acme-challenge` TXT value with DNS UPDATE
 * (RFC 2136) at one primary server, signed with TSIG (RFC 8945) when a key is given. Works with BIND,
 * Knot, PowerDNS and any server that takes RFC 2136 updates.
 *
 * - present: one UPDATE adding one TXT RR (§2.5.1); cleanup: one UPDATE deleting that RR by value
 *   (§2.5.4), never the RRset, so a wildcard's and its apex's values (and anyone else's) coexist.
 * - The zone is the `zone` option, else the owner of the SOA the server answers for the record's name
 *   (RFC 2136 §4: the requestor finds the zone; RFC 2308 §2 puts the SOA in the authority section).
 * - Options are checked when the provider is made, before any packet: `InvalidInputError`
 *   (`ERR_INVALID_OPTION`, step `input`). Server answers other than NOERROR, and TSIG failures either
 *   way, are `DnsError` (`ERR_DNS_PROVIDER`, step `dns`) with `data.rcode` and `data.tsigError`.
 * - The key secret never appears in messages or error data.
 */
import { randomInt } from 'node:crypto';
import { DnsError, ErrorCode, InvalidInputError } from '../errors.js';
import { exchange, formatServerAddress, parseServerAddress, type DnsServerAddress } from './dns-exchange.js';
import { buildSoaQuery, buildTxtUpdate, isTxtValue, zoneFromSoaResponse } from './dns-update.js';
import { isInZone, normalizeName, Opcode, parseMessage, rcodeName, type WireMessage } from './dns-wire.js';
import type { Dns01Provider, Dns01Record } from './provider.js';
import { signRequest, TSIG_ALGORITHMS, verifyResponse, type TsigAlgorithm, type TsigKey } from './tsig.js';

/** Options of the rfc2136 provider (also the CLI's `--dns-option key=value` names). */
export interface Rfc2136Options {
  /** The primary server taking updates: `host:port`, `host` (port 53) or `[v6]:port`. */
  server: string;
  /** The TSIG key name, as in the server's config (`acme-key`). Give it with keySecret, or neither. */
  keyName?: string;
  /** The TSIG secret, base64 (the `secret` of `tsig-keygen`). Never logged nor put in errors. */
  keySecret?: string;
  /** Default `hmac-sha256`. */
  keyAlgorithm?: TsigAlgorithm;
  /** The zone to update (`example.com`); default: found by a SOA query at `server`. */
  zone?: string;
  /** TTL of the TXT records, seconds. Default 60. */
  ttl?: number;
  /** Per UPDATE or SOA query, all retransmissions included. Default 10 000 ms. */
  timeoutMs?: number;
}

/** The option names `rfc2136FromOptions` takes. */
export const RFC2136_OPTION_NAMES = ['server', 'keyName', 'keySecret', 'keyAlgorithm', 'zone', 'ttl', 'timeoutMs'] as const;

const DEFAULT_TTL = 60;
const DEFAULT_TIMEOUT_MS = 10_000;
/** RFC 2181 §8: a TTL is at most 2^31 - 1. */
const MAX_TTL = 2_147_483_647;
const MAX_TIMEOUT_MS = 600_000;

function invalidOption(option: string, message: string, extra: Record<string, unknown> = {}): InvalidInputError {
  return new InvalidInputError(ErrorCode.invalidOption, `rfc2136: ${message}`, { step: 'input', data: { provider: 'rfc2136', option, ...extra } });
}

interface Checked {
  server: DnsServerAddress;
  serverText: string;
  key: TsigKey | undefined;
  zone: string | undefined;
  ttl: number;
  timeoutMs: number;
}

/** Base64 (RFC 4648 §4) with its padding, non-empty. */
function decodeSecret(s: string): Buffer | null {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s) || s === '') return null;
  const b = Buffer.from(s, 'base64');
  return b.length === 0 ? null : b;
}

function checkOptions(o: Rfc2136Options): Checked {
  if (typeof o !== 'object' || o === null) throw invalidOption('options', 'options must be an object');
  const server = typeof o.server === 'string' ? parseServerAddress(o.server) : null;
  if (server === null) {
    throw invalidOption('server', `server must be "host:port", "host" or "[v6]:port", got ${JSON.stringify(String(o.server))}`, { value: String(o.server) });
  }
  let key: TsigKey | undefined;
  const hasName = o.keyName !== undefined;
  const hasSecret = o.keySecret !== undefined;
  if (hasName !== hasSecret) throw invalidOption(hasName ? 'keySecret' : 'keyName', 'keyName and keySecret go together: give both or neither');
  if (!hasName && o.keyAlgorithm !== undefined) throw invalidOption('keyAlgorithm', 'keyAlgorithm needs keyName and keySecret');
  if (hasName) {
    const name = typeof o.keyName === 'string' ? normalizeName(o.keyName) : null;
    if (name === null) throw invalidOption('keyName', `keyName must be a DNS name, got ${JSON.stringify(String(o.keyName))}`, { value: String(o.keyName) });
    const secret = typeof o.keySecret === 'string' ? decodeSecret(o.keySecret) : null;
    if (secret === null) throw invalidOption('keySecret', 'keySecret must be non-empty base64 (the secret from tsig-keygen)');
    const algorithm = o.keyAlgorithm ?? 'hmac-sha256';
    if (!TSIG_ALGORITHMS.includes(algorithm)) {
      throw invalidOption('keyAlgorithm', `keyAlgorithm must be one of ${TSIG_ALGORITHMS.join(', ')}, got ${JSON.stringify(String(algorithm))}`, { value: String(algorithm) });
    }
    key = { name, algorithm, secret };
  }
  let zone: string | undefined;
  if (o.zone !== undefined) {
    const z = typeof o.zone === 'string' ? normalizeName(o.zone) : null;
    if (z === null || z.startsWith('*.')) throw invalidOption('zone', `zone must be a DNS name, got ${JSON.stringify(String(o.zone))}`, { value: String(o.zone) });
    zone = z;
  }
  const ttl = o.ttl ?? DEFAULT_TTL;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL) throw invalidOption('ttl', `ttl must be an integer from 0 to ${MAX_TTL}, got ${String(ttl)}`, { value: String(ttl) });
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
    throw invalidOption('timeoutMs', `timeoutMs must be an integer from 1 to ${MAX_TIMEOUT_MS}, got ${String(timeoutMs)}`, { value: String(timeoutMs) });
  }
  return { server, serverText: formatServerAddress(server), key, zone, ttl, timeoutMs };
}

function checkRecord(record: Dns01Record): { fqdn: string; value: string } {
  const fqdn = typeof record?.fqdn === 'string' ? normalizeName(record.fqdn) : null;
  if (fqdn === null || fqdn.includes('*')) {
    throw new InvalidInputError(ErrorCode.invalidDomain, `rfc2136: not a record name: ${JSON.stringify(String(record?.fqdn))}`, {
      step: 'dns',
      data: { provider: 'rfc2136', fqdn: String(record?.fqdn) },
    });
  }
  if (!isTxtValue(record.value)) {
    throw new InvalidInputError(ErrorCode.invalidOption, 'rfc2136: a TXT value must be 1-255 printable ASCII characters', {
      step: 'dns',
      data: { provider: 'rfc2136', fqdn },
    });
  }
  return { fqdn, value: record.value };
}

/** Sends one message (signed when there is a key) and returns the parsed, verified response. */
async function ask(c: Checked, unsigned: Buffer, what: string, data: Record<string, unknown>): Promise<WireMessage> {
  const signed = c.key === undefined ? undefined : signRequest(unsigned, c.key, Math.floor(Date.now() / 1000));
  const raw = await exchange(signed?.message ?? unsigned, { server: c.server, timeoutMs: c.timeoutMs });
  const msg = parseMessage(raw);
  const base = { provider: 'rfc2136', server: c.serverText, ...data };
  const rcode = rcodeName(msg.header.rcode);
  if (c.key !== undefined && signed !== undefined) {
    const v = verifyResponse(msg, c.key, signed, Math.floor(Date.now() / 1000));
    if (!v.ok) {
      // An unsigned error answer is still reported as that error: it can only make us fail, never succeed.
      if (v.tsigError === 'UNSIGNED' && msg.header.rcode !== 0) {
        throw new DnsError(ErrorCode.dnsProvider, `rfc2136: ${what} failed at ${c.serverText}: ${rcode}`, { step: 'dns', data: { ...base, rcode, responseSigned: false } });
      }
      const who = v.by === 'server' ? 'the server rejected our TSIG signature' : 'the server response failed TSIG verification';
      throw new DnsError(ErrorCode.dnsProvider, `rfc2136: ${what} failed at ${c.serverText}: ${who} (${rcode}, ${v.tsigError})`, {
        step: 'dns',
        data: { ...base, rcode, tsigError: v.tsigError, tsigFailedAt: v.by },
      });
    }
  }
  return msg;
}

function newId(): number {
  return randomInt(0, 0x10000);
}

/**
 * Makes the provider. The options are checked here, before any packet.
 * @throws InvalidInputError `ERR_INVALID_OPTION` (step `input`, `data.option` names the bad one).
 */
export function createRfc2136Provider(o: Rfc2136Options): Dns01Provider {
  const c = checkOptions(o);
  // Per provider, not module-wide: the zone found for each record name.
  const zones = new Map<string, Promise<string>>();

  const findZone = async (fqdn: string): Promise<string> => {
    const msg = await ask(c, buildSoaQuery(fqdn, newId()), `the SOA query for ${fqdn}`, { fqdn });
    const rcode = rcodeName(msg.header.rcode);
    const zone = msg.header.rcode === 0 || msg.header.rcode === 3 ? zoneFromSoaResponse(msg) : undefined;
    if (zone === undefined || !isInZone(fqdn, zone)) {
      throw new DnsError(ErrorCode.dnsProvider, `rfc2136: the server at ${c.serverText} is not authoritative for a zone holding ${fqdn} (${rcode}); set the zone option`, {
        step: 'dns',
        data: { provider: 'rfc2136', server: c.serverText, fqdn, rcode, reason: 'zoneNotFound' },
      });
    }
    return zone;
  };

  const zoneOf = async (fqdn: string): Promise<string> => {
    if (c.zone !== undefined) {
      if (!isInZone(fqdn, c.zone)) {
        throw new InvalidInputError(ErrorCode.invalidOption, `rfc2136: ${fqdn} is not in the zone ${c.zone}`, {
          step: 'dns',
          data: { provider: 'rfc2136', option: 'zone', fqdn, zone: c.zone },
        });
      }
      return c.zone;
    }
    let p = zones.get(fqdn);
    if (p === undefined) {
      p = findZone(fqdn);
      zones.set(fqdn, p);
      p.catch(() => zones.delete(fqdn));
    }
    return p;
  };

  const update = async (op: 'add' | 'delete', record: Dns01Record): Promise<void> => {
    const { fqdn, value } = checkRecord(record);
    const zone = await zoneOf(fqdn);
    const what = `${op === 'add' ? 'adding' : 'deleting'} a TXT value at ${fqdn}`;
    const msg = await ask(c, buildTxtUpdate(op, { zone, fqdn, value, ttl: c.ttl }, newId()), what, { fqdn, zone });
    if (msg.header.opcode !== Opcode.UPDATE) {
      throw new DnsError(ErrorCode.dnsProvider, `rfc2136: ${what} failed at ${c.serverText}: the answer is not an UPDATE response`, {
        step: 'dns',
        data: { provider: 'rfc2136', server: c.serverText, fqdn, zone, reason: 'malformedResponse' },
      });
    }
    if (msg.header.rcode !== 0) {
      const rcode = rcodeName(msg.header.rcode);
      throw new DnsError(ErrorCode.dnsProvider, `rfc2136: ${what} failed at ${c.serverText}: ${rcode}`, {
        step: 'dns',
        data: { provider: 'rfc2136', server: c.serverText, fqdn, zone, rcode },
      });
    }
  };

  return {
    name: 'rfc2136',
    present: (record) => update('add', record),
    cleanup: (record) => update('delete', record),
  };
}

function parseInteger(option: string, v: string): number {
  if (!/^\d{1,10}$/.test(v)) throw invalidOption(option, `${option} must be a non-negative integer, got ${JSON.stringify(v)}`, { value: v });
  return Number(v);
}

/**
 * The provider from the CLI's `--dns-option key=value` pairs: the names of `Rfc2136Options`, all values
 * strings (`ttl` and `timeoutMs` decimal). Unknown names are refused.
 * @throws InvalidInputError `ERR_INVALID_OPTION` (step `input`).
 */
export function rfc2136FromOptions(raw: Record<string, string>): Dns01Provider {
  if (typeof raw !== 'object' || raw === null) throw invalidOption('options', 'options must be key=value pairs');
  const known: readonly string[] = RFC2136_OPTION_NAMES;
  for (const [k, v] of Object.entries(raw)) {
    if (!known.includes(k)) throw invalidOption(k, `unknown option ${JSON.stringify(k)} (known: ${known.join(', ')})`, { known: [...known] });
    if (typeof v !== 'string') throw invalidOption(k, `option ${k} must be a string`);
  }
  if (raw['server'] === undefined) throw invalidOption('server', 'the server option is required (host:port)');
  const o: Rfc2136Options = { server: raw['server'] };
  if (raw['keyName'] !== undefined) o.keyName = raw['keyName'];
  if (raw['keySecret'] !== undefined) o.keySecret = raw['keySecret'];
  if (raw['keyAlgorithm'] !== undefined) o.keyAlgorithm = raw['keyAlgorithm'] as TsigAlgorithm;
  if (raw['zone'] !== undefined) o.zone = raw['zone'];
  if (raw['ttl'] !== undefined) o.ttl = parseInteger('ttl', raw['ttl']);
  if (raw['timeoutMs'] !== undefined) o.timeoutMs = parseInteger('timeoutMs', raw['timeoutMs']);
  return createRfc2136Provider(o);
}
