/**
 * The demo's website: ONE node:https server for every issued domain, choosing the certificate per
 * handshake through the supervisor's SNI callback, answering `hello from <servername>`. It listens on
 * 127.0.0.1 only and has no default certificate, so a handshake without a known SNI name fails.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';

/** A running site server. */
export interface SiteServer {
  /** `127.0.0.1` */
  host: string;
  /** The port the kernel chose. */
  port: number;
  /** Stops listening and closes every connection. Idempotent. */
  close(): Promise<void>;
}

/** The body the server answers for `servername`. */
export function helloBody(servername: string): string {
  return `hello from ${servername}`;
}

/**
 * Starts the server on a free 127.0.0.1 port.
 * @param sniCallback e.g. `supervisor.certificates.sniCallback`, so certificates swap without a restart.
 */
export async function startSiteServer(
  sniCallback: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void,
): Promise<SiteServer> {
  const host = '127.0.0.1';
  const server = https.createServer({ SNICallback: sniCallback }, (req, res) => {
    // node sets `servername` on server-side TLS sockets; @types/node 20 does not declare it.
    const servername = (req.socket as TLSSocket & { servername?: string | false }).servername;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(helloBody(typeof servername === 'string' ? servername : ''));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
