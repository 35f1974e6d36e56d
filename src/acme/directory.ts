/**
 * Fetching and checking the ACME directory (RFC 8555 §7.1.1). Unknown fields and a missing `meta` are
 * fine; a directory without newNonce/newAccount/newOrder is a ProtocolError.
 */
import { ErrorCode, ProtocolError } from '../errors.js';
import type { HttpTransport } from './transport.js';
import type { Directory } from './types.js';

/** GET the directory; connection-level failures are retried (bounded) by the transport. */
export async function fetchDirectory(transport: HttpTransport, url: string, signal?: AbortSignal): Promise<Directory> {
  const res = await transport.requestIdempotent({ method: 'GET', url, step: 'directory', signal });
  if (res.status !== 200) {
    throw new ProtocolError(ErrorCode.protocol, `directory ${url} answered HTTP ${res.status}`, { step: 'directory', data: { status: res.status } });
  }
  let d: Record<string, unknown>;
  try {
    d = JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new ProtocolError(ErrorCode.protocol, `directory ${url} is not JSON`, { step: 'directory', cause });
  }
  const scheme = new URL(url).protocol;
  for (const k of ['newNonce', 'newAccount', 'newOrder'] as const) {
    const v = d?.[k];
    if (typeof v !== 'string') {
      throw new ProtocolError(ErrorCode.protocol, `directory ${url} has no ${k} URL`, { step: 'directory' });
    }
    // §6.1: all ACME traffic is over HTTPS; a directory never sends the client elsewhere in the clear.
    let parsed: URL | undefined;
    try {
      parsed = new URL(v);
    } catch {
      parsed = undefined;
    }
    if (parsed?.protocol !== scheme) {
      throw new ProtocolError(ErrorCode.protocol, `directory ${url} gives ${k} as ${JSON.stringify(v)}, not an absolute ${scheme}// URL`, { step: 'directory' });
    }
  }
  return d as unknown as Directory;
}
