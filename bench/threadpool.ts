/**
 * libuv's thread pool size for the bench process. Key generation (the keygen floor, leec's and
 * acme-client's certificate keys) runs there; its default of 4 threads would hide cores on a bigger
 * machine. The pool starts with the first module read, before any bench code runs, so a value set
 * in-process comes too late: run.ts starts itself again with UV_THREADPOOL_SIZE set when it is unset and
 * the machine has more than 4 cores.
 */
export const LIBUV_DEFAULT_THREADPOOL = 4;

/** The size the pool has in this process. */
export function threadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env['UV_THREADPOOL_SIZE']);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1024) : LIBUV_DEFAULT_THREADPOOL;
}

/** The UV_THREADPOOL_SIZE to restart with, or undefined when this process's pool is fine as it is. */
export function wantedThreadpoolSize(cpus: number, env: NodeJS.ProcessEnv = process.env): number | undefined {
  if (env['UV_THREADPOOL_SIZE'] !== undefined) return undefined; // the caller chose
  return cpus > LIBUV_DEFAULT_THREADPOOL ? cpus : undefined;
}
