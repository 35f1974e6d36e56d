/**
 * One DNS request/response exchange with one server: UDP first, retransmitting the same bytes with
 * doubling intervals until the deadline (RFC 1035 §4.2.1; RFC 1536 §1), then TCP (RFC 1035 §4.2.2,
 * 2-byte length prefix) when the UDP answer is truncated (TC). UDP because that is what DNS UPDATE
 * servers expect first and an UPDATE with TSIG fits well within 512 bytes; TCP is there for the rare
 * truncated answer. Retransmitting an UPDATE is safe: adding a present RR and deleting an absent one are
 * no-ops (RFC 2136 §3.4.2). A response counts only from the server's address with the request's ID.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { AbortedError, DnsError, ErrorCode } from '../errors.js';

/** Where a DNS server listens. */
export interface DnsServerAddress {
  host: string;
  port: number;
}

/**
 * Parses `host:port`, `host` (port 53), `[v6]:port` or a bare IPv6 address. Returns null when malformed.
 */
export function parseServerAddress(s: string): DnsServerAddress | null {
  if (typeof s !== 'string' || s === '' || /\s/.test(s)) return null;
  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket !== null) {
    host = bracket[1]!;
    portText = bracket[2];
    if (!net.isIPv6(host)) return null;
  } else if (net.isIPv6(s)) {
    host = s;
  } else {
    const m = /^([^:]+)(?::(\d+))?$/.exec(s);
    if (m === null) return null;
    host = m[1]!;
    portText = m[2];
    if (!net.isIPv4(host) && !/^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$/.test(host)) return null;
  }
  const port = portText === undefined ? 53 : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host, port };
}

/** `host:port`, with brackets for IPv6: for messages and error data. */
export function formatServerAddress(a: DnsServerAddress): string {
  return net.isIPv6(a.host) ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export interface ExchangeOptions {
  server: DnsServerAddress;
  /** The whole exchange, all retransmissions and the TCP fallback included. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** First UDP retransmission interval (doubles each time). Default 1000 ms. */
  retransmitMs?: number;
}

const MAX_UDP = 65_535;

function aborted(): AbortedError {
  return new AbortedError(ErrorCode.aborted, 'stopped during dns', { step: 'dns' });
}

function timeoutError(server: string, timeoutMs: number, transport: 'udp' | 'tcp'): DnsError {
  return new DnsError(ErrorCode.dnsProvider, `no answer from the DNS server at ${server} within ${timeoutMs} ms`, {
    step: 'dns',
    data: { server, reason: 'timeout', transport, timeoutMs },
  });
}

function networkError(server: string, err: unknown, transport: 'udp' | 'tcp'): DnsError {
  const code = (err as { code?: unknown } | null)?.code;
  const cause = typeof code === 'string' ? code : 'unknown';
  return new DnsError(ErrorCode.dnsProvider, `cannot reach the DNS server at ${server} over ${transport} (${cause})`, {
    step: 'dns',
    data: { server, reason: 'network', transport, cause },
    cause: err,
  });
}

function isAnswerTo(buf: Buffer, id: number): boolean {
  return buf.length >= 12 && buf.readUInt16BE(0) === id && (buf[2]! & 0x80) !== 0;
}

async function resolveHost(host: string): Promise<{ address: string; family: 4 | 6 }> {
  if (net.isIPv4(host)) return { address: host, family: 4 };
  if (net.isIPv6(host)) return { address: host, family: 6 };
  const r = await lookup(host);
  return { address: r.address, family: r.family === 6 ? 6 : 4 };
}

/** UDP with retransmissions; resolves with the first matching answer. */
function udpExchange(query: Buffer, addr: { address: string; family: 4 | 6 }, port: number, server: string, deadline: number, opts: ExchangeOptions): Promise<Buffer> {
  const id = query.readUInt16BE(0);
  return new Promise<Buffer>((resolve, reject) => {
    const sock = dgram.createSocket(addr.family === 6 ? 'udp6' : 'udp4');
    let timer: NodeJS.Timeout | undefined;
    let interval = opts.retransmitMs ?? 1000;
    let settled = false;
    const finish = (err: unknown, value?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      try {
        sock.close();
      } catch {
        // already closed
      }
      if (err !== undefined) reject(err);
      else resolve(value!);
    };
    const onAbort = (): void => finish(aborted());
    const send = (): void => {
      const left = deadline - Date.now();
      if (left <= 0) {
        finish(timeoutError(server, opts.timeoutMs, 'udp'));
        return;
      }
      sock.send(query, (err) => {
        if (err) finish(networkError(server, err, 'udp'));
      });
      // The wait that reaches the deadline ends the exchange: no retransmission at the deadline itself
      // (a timer can fire a millisecond before Date.now() says the deadline has come).
      const last = interval >= left;
      timer = setTimeout(last ? () => finish(timeoutError(server, opts.timeoutMs, 'udp')) : send, Math.min(interval, left));
      interval *= 2;
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (err) => finish(networkError(server, err, 'udp')));
    sock.on('message', (msg, rinfo) => {
      if (rinfo.address !== addr.address || rinfo.port !== port || !isAnswerTo(msg, id)) return; // not ours
      finish(undefined, msg);
    });
    // A connected socket receives ICMP "port unreachable" as ECONNREFUSED instead of waiting it out.
    sock.connect(port, addr.address, () => send());
  });
}

/** TCP: one length-prefixed message out, one in (RFC 1035 §4.2.2). */
function tcpExchange(query: Buffer, addr: { address: string }, port: number, server: string, deadline: number, opts: ExchangeOptions): Promise<Buffer> {
  const id = query.readUInt16BE(0);
  return new Promise<Buffer>((resolve, reject) => {
    const sock = net.connect({ host: addr.address, port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const timer = setTimeout(() => finish(timeoutError(server, opts.timeoutMs, 'tcp')), Math.max(0, deadline - Date.now()));
    const finish = (err: unknown, value?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err !== undefined) reject(err);
      else resolve(value!);
    };
    const onAbort = (): void => finish(aborted());
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (err) => finish(networkError(server, err, 'tcp')));
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        if (isAnswerTo(msg, id)) {
          finish(undefined, Buffer.from(msg));
          return;
        }
      }
    });
    sock.on('end', () => finish(networkError(server, Object.assign(new Error('closed'), { code: 'ECONNRESET' }), 'tcp')));
  });
}

/**
 * Sends `query` to the server and returns the raw response: over UDP, then over TCP if it came back
 * truncated. Rejects with DnsError (`ERR_DNS_PROVIDER`, data.reason `timeout` | `network`) or
 * AbortedError when `signal` aborts.
 */
export async function exchange(query: Buffer, opts: ExchangeOptions): Promise<Buffer> {
  if (opts.signal?.aborted) throw aborted();
  if (query.length > MAX_UDP) throw new RangeError('DNS message too large');
  const server = formatServerAddress(opts.server);
  const deadline = Date.now() + opts.timeoutMs;
  let addr: { address: string; family: 4 | 6 };
  try {
    addr = await resolveHost(opts.server.host);
  } catch (err) {
    throw networkError(server, err, 'udp');
  }
  const udp = await udpExchange(query, addr, opts.server.port, server, deadline, opts);
  if ((udp[2]! & 0x02) === 0) return udp;
  return tcpExchange(query, addr, opts.server.port, server, deadline, opts);
}
