/**
 * The one http-01 responder Pebble's validator talks to, on a fixed port for the whole benchmark. The
 * cell that runs now plugs its own request listener in (leec: `supervisor.http01.listener`; acme-client:
 * leec's ChallengeStore handler filled by challengeCreateFn), so both tools pay the same socket path.
 */
import { createServer, type RequestListener } from 'node:http';

export interface SharedResponder {
  port: number;
  /** Routes every request to `listener` from now on; undefined answers 404 to everything. */
  use(listener: RequestListener | undefined): void;
  close(): Promise<void>;
}

export async function startSharedResponder(port: number, host = '127.0.0.1'): Promise<SharedResponder> {
  let current: RequestListener | undefined;
  const server = createServer((req, res) => {
    if (current) return current(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('no cell running\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port,
    use(listener) {
      current = listener;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
