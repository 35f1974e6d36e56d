/**
 * Typed calls across threads with comlink over a MessagePort, in both directions. Errors never travel as
 * thrown values (structured clone and comlink's own handler drop their class and fields): each call
 * answers an envelope, and the caller revives the error with its class, code, problem and step.
 * Every call has a deadline and is raced against the peer's exit (comlink alone would hang, issue #601).
 */
import type { MessagePort } from 'node:worker_threads';
// comlink's ES module builds: its package entry is a UMD (CommonJS) file, which an ESM import first runs
// through Node's CommonJS export scanner, on every agent thread (~5 ms of CPU).
import { expose, wrap, releaseProxy } from 'comlink/dist/esm/comlink.mjs';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { ActorExitedError, ErrorCode, reviveError, serializeError, type SerializedError } from '../errors.js';

type Envelope<T> = { ok: true; value: T } | { ok: false; error: SerializedError };

/** The promise-returning shape of an API as seen from the other thread. */
export type Remote<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/** Serves `api` on `port`. Methods may throw; the caller sees the revived error. */
export function exposeApi<T extends object>(api: T, port: MessagePort): void {
  const wrapped: Record<string, (...args: unknown[]) => Promise<Envelope<unknown>>> = {};
  for (const name of Object.keys(api) as Array<keyof T & string>) {
    const fn = api[name];
    if (typeof fn !== 'function') continue;
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return { ok: true, value: await (fn as (...a: unknown[]) => unknown).apply(api, args) };
      } catch (e) {
        return { ok: false, error: serializeError(e) };
      }
    };
  }
  expose(wrapped, nodeEndpoint(port));
}

export interface ConnectOptions {
  /** Deadline of each call. */
  deadlineMs: number;
  /** Settles when the peer is gone; pending and later calls then reject with ActorExitedError. */
  exited?: Promise<unknown>;
  /** Names the peer in errors. */
  peer: string;
  /**
   * Calls that wait for as long as the peer takes (the peer bounds them itself, e.g. a queue for a shared
   * resource): no deadline, but still failed when the peer exits.
   */
  untimed?: ReadonlyArray<string>;
}

/** The caller's side of `exposeApi`. */
export function connectApi<T extends object>(port: MessagePort, opts: ConnectOptions): Remote<T> & { close(): void } {
  const remote = wrap<Record<string, (...args: unknown[]) => Promise<Envelope<unknown>>>>(nodeEndpoint(port));
  let gone = false;
  const exited = opts.exited?.then(
    () => undefined,
    () => undefined,
  );
  void exited?.then(() => {
    gone = true;
  });
  const call = async (name: string, args: unknown[]): Promise<unknown> => {
    const exitedError = (): ActorExitedError =>
      new ActorExitedError(ErrorCode.actorExited, `${opts.peer} exited before answering ${name}()`, { data: { peer: opts.peer, call: name } });
    if (gone) throw exitedError();
    let timer: NodeJS.Timeout | undefined;
    const racers: Array<Promise<Envelope<unknown>>> = [(remote[name] as (...a: unknown[]) => Promise<Envelope<unknown>>)(...args)];
    if (!opts.untimed?.includes(name)) {
      racers.push(
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new ActorExitedError(ErrorCode.actorExited, `${opts.peer} did not answer ${name}() within ${opts.deadlineMs} ms`, { data: { peer: opts.peer, call: name, deadlineMs: opts.deadlineMs } })),
            opts.deadlineMs,
          );
        }),
      );
    }
    if (exited) racers.push(exited.then(() => Promise.reject(exitedError())));
    try {
      const env = await Promise.race(racers);
      if (env.ok) return env.value;
      throw reviveError(env.error);
    } finally {
      clearTimeout(timer);
    }
  };
  return new Proxy({} as Remote<T> & { close(): void }, {
    get(_t, name) {
      if (name === 'then') return undefined; // not a thenable
      if (name === 'close') return () => {
        remote[releaseProxy]();
        port.close();
      };
      return (...args: unknown[]) => call(String(name), args);
    },
  });
}
