/**
 * A standalone node:http server that answers only http-01 challenges (RFC 8555 §8.3) from a
 * ChallengeStore, for hosts without their own web server. It is not TLS and serves nothing else (404).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChallengeStore } from './challenge-store.js';
import { createHttp01Handler, type Http01HandlerOptions } from './http01-handler.js';

/** A running standalone responder. */
export interface Http01Listener {
  /** The bound port (the chosen one when `port: 0` was asked). */
  port: number;
  /** The bound address. */
  host: string;
  /** Stops listening and closes every connection, idle keep-alive ones included. */
  close(): Promise<void>;
  /** Settles when the server has stopped listening, for whatever reason (`error` when it failed). */
  closed: Promise<{ error?: Error }>;
}

/**
 * Listens on `opts.host` (default 127.0.0.1) : `opts.port` (0 picks a free port) and serves
 * `store`'s key authorizations under `/.well-known/acme-challenge/`.
 */
export async function listenHttp01(
  store: ChallengeStore,
  opts: { port: number; host?: string } & Http01HandlerOptions,
): Promise<Http01Listener> {
  const handlerOpts: Http01HandlerOptions = {};
  if (opts.onServed !== undefined) handlerOpts.onServed = opts.onServed;
  const handler = createHttp01Handler(store, handlerOpts);
  const server = createServer((req, res) => handler.listener(req, res));
  const bindHost = opts.host ?? '127.0.0.1';

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(opts.port, bindHost, () => {
      server.off('error', onError);
      resolve();
    });
  });

  const addr = server.address() as AddressInfo;
  let failure: Error | undefined;
  server.on('error', (err) => {
    failure = err;
    server.close();
  });
  const closed = new Promise<{ error?: Error }>((resolve) => server.once('close', () => resolve(failure ? { error: failure } : {})));
  let closing: Promise<void> | undefined;
  return {
    port: addr.port,
    host: addr.address,
    closed,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err === undefined ? resolve() : reject(err)));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
