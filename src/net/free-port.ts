/**
 * Free loopback port allocation for test fixtures (Pebble, challtestsrv, responders): a random port
 * below the kernel's ephemeral range that can be bound, else (none found) port 0's choice. Below the
 * range, because the kernel also hands ephemeral ports to outgoing connections: a port it chose for us
 * and we released could become the local end of some client's connection before our server binds it.
 * It is not a reservation: another process may still take the port
 * before the caller binds it, so callers that can retry on EADDRINUSE should. Nothing is remembered
 * between calls: two separate calls may return the same port (use {@link freePorts} for distinct ones).
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Options for {@link freePort} and {@link freePorts}. */
export interface FreePortOptions {
  /** Also check that a UDP socket can bind the same port (for DNS servers, which listen on both). */
  udp?: boolean;
}

function listenTcp(host: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host, port, exclusive: true }, () => {
      srv.off('error', reject);
      resolve(srv);
    });
  });
}

function bindUdp(host: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    sock.unref();
    sock.once('error', (err) => {
      sock.close();
      reject(err);
    });
    sock.bind({ address: host, port, exclusive: true }, () => {
      sock.removeAllListeners('error');
      resolve(sock);
    });
  });
}

function closeTcp(srv: net.Server): Promise<void> {
  return new Promise((resolve) => srv.close(() => resolve()));
}

function closeUdp(sock: dgram.Socket): Promise<void> {
  return new Promise((resolve) => sock.close(() => resolve()));
}

interface Held {
  port: number;
  release(): Promise<void>;
}

/** The lowest port of the kernel's ephemeral range (Linux: ip_local_port_range; else IANA's 49152). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 1024) return low;
  } catch {
    // not Linux, or no procfs
  }
  return 49152;
}

/** Ports tried below the ephemeral range, from here up. */
const LOWEST_PICKED = 10_000;

/** A listening TCP server on a random port below the ephemeral range, or undefined when none bound. */
async function listenBelowEphemeral(host: string, exclude: ReadonlySet<number>): Promise<net.Server | undefined> {
  const high = ephemeralLow() - 1;
  if (high <= LOWEST_PICKED) return undefined;
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = LOWEST_PICKED + Math.floor(Math.random() * (high - LOWEST_PICKED + 1));
    if (exclude.has(port)) continue;
    try {
      return await listenTcp(host, port);
    } catch {
      // taken: try another
    }
  }
  return undefined;
}

/** Holds one free port (TCP, plus UDP when asked) open until `release()`. */
async function holdPort(host: string, opts: FreePortOptions, exclude: ReadonlySet<number>): Promise<Held> {
  const rejected: net.Server[] = [];
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      const srv = (await listenBelowEphemeral(host, exclude)) ?? (await listenTcp(host, 0));
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      if (port === 0 || exclude.has(port)) {
        rejected.push(srv); // keep it open so the kernel gives another port next time
        continue;
      }
      let udp: dgram.Socket | undefined;
      if (opts.udp === true) {
        try {
          udp = await bindUdp(host, port);
        } catch {
          rejected.push(srv);
          continue;
        }
      }
      const u = udp;
      return {
        port,
        release: async () => {
          await closeTcp(srv);
          if (u !== undefined) await closeUdp(u);
        },
      };
    }
    throw new Error(`no free port found on ${host} after 50 attempts`);
  } finally {
    await Promise.all(rejected.map(closeTcp));
  }
}

/**
 * Returns a port that was free on `host` a moment ago (TCP, and UDP too with `{ udp: true }`).
 * @param host the address to probe; default 127.0.0.1.
 */
export async function freePort(host = '127.0.0.1', opts: FreePortOptions = {}): Promise<number> {
  const held = await holdPort(host, opts, new Set());
  await held.release();
  return held.port;
}

/**
 * Returns `n` distinct free ports on `host`. All probe sockets stay open until every port is
 * allocated, so the kernel cannot hand the same port out twice.
 */
export async function freePorts(n: number, host = '127.0.0.1', opts: FreePortOptions = {}): Promise<number[]> {
  const held: Held[] = [];
  try {
    const taken = new Set<number>();
    for (let i = 0; i < n; i++) {
      const h = await holdPort(host, opts, taken);
      taken.add(h.port);
      held.push(h);
    }
    return held.map((h) => h.port);
  } finally {
    await Promise.all(held.map((h) => h.release()));
  }
}
