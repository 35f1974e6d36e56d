/**
 * The standalone http-01 responder as a child of the supervision tree (permanent): if its server stops
 * on its own, the root restarts it on the same port. Tokens live in the ChallengeStore, not in the
 * listener, so validations in flight survive the restart.
 */
import type { ChallengeStore } from './responder/challenge-store.js';
import { listenHttp01, type Http01Listener } from './responder/standalone.js';
import type { ChildRef, ChildSpec } from './runtime/supervisor-tree.js';
import { ErrorCode, LeecError } from './errors.js';

export function responderSpec(
  store: ChallengeStore,
  opts: { port: number; host: string; onServed: (host: string, token: string) => void },
  onListening: (l: Http01Listener) => void,
): ChildSpec {
  let port = opts.port;
  return {
    id: 'responder',
    restart: 'permanent',
    shutdownMs: 2000,
    async start(): Promise<ChildRef> {
      const listener = await listenHttp01(store, { port, host: opts.host, onServed: opts.onServed }).catch((cause: unknown) => {
        throw new LeecError(ErrorCode.listen, `the http-01 responder cannot listen on ${opts.host}:${port}: ${(cause as Error).message}`, {
          step: 'input',
          cause,
          data: { host: opts.host, port },
        });
      });
      port = listener.port; // a restart binds the same port, the one the CA validates on
      onListening(listener);
      let stopping = false;
      return {
        id: 'responder',
        exited: listener.closed.then(({ error }) =>
          stopping ? { kind: 'shutdown' as const } : { kind: 'crash' as const, error: error ?? new Error('the http-01 responder stopped listening') },
        ),
        async stop() {
          stopping = true;
          await listener.close();
        },
      };
    },
  };
}
