/**
 * The process's active resources (process.getActiveResourcesInfo) by type, for the tests that check a
 * component leaves no timer, socket or server behind.
 */

/** Active resources by type, e.g. { Timeout: 1, TCPSocketWrap: 2 }. */
export function activeResources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/** Lets closed sockets and finished timers leave the list: a few turns of the event loop, then 50 ms. */
export async function settleResources(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 50));
}
