/**
 * A standalone challenge responder (the http-01 HTTP server, the tls-alpn-01 TLS listener) as a
 * permanent child of the supervision tree: if its server stops on its own, the root restarts it on the
 * same port. Challenges live in their stores, not in the listener, so validations in flight survive.
 */
import type { ChildRef, ChildSpec } from './runtime/supervisor-tree.js';
import { ErrorCode, LeecError } from './errors.js';

/** What both standalone responders' listeners look like. */
export interface ResponderListener {
  port: number;
  close(): Promise<void>;
  /** Settles when the server stops listening, with the error if it failed. */
  closed: Promise<{ error?: Error | undefined }>;
}

export function responderSpec<L extends ResponderListener>(opts: {
  id: string;
  /** For messages: `http-01 responder`. */
  what: string;
  host: string;
  port: number;
  listen: (port: number) => Promise<L>;
  onListening: (l: L) => void;
}): ChildSpec {
  let port = opts.port;
  return {
    id: opts.id,
    restart: 'permanent',
    shutdownMs: 2000,
    async start(): Promise<ChildRef> {
      const listener = await opts.listen(port).catch((cause: unknown) => {
        throw new LeecError(ErrorCode.listen, `the ${opts.what} cannot listen on ${opts.host}:${port}: ${(cause as Error).message}`, {
          step: 'input',
          cause,
          data: { host: opts.host, port },
        });
      });
      port = listener.port; // a restart binds the same port, the one the CA validates on
      opts.onListening(listener);
      let stopping = false;
      return {
        id: opts.id,
        exited: listener.closed.then(({ error }) =>
          stopping ? { kind: 'shutdown' as const } : { kind: 'crash' as const, error: error ?? new Error(`the ${opts.what} stopped listening`) },
        ),
        async stop() {
          stopping = true;
          await listener.close();
        },
      };
    },
  };
}
