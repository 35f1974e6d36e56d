/**
 * Polls until `f()` returns something other than undefined or false: for work the supervisor starts
 * without awaiting it (a renewal being scheduled, an event arriving).
 */
export async function until<T>(f: () => T | undefined | false, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
