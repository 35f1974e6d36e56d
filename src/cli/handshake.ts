/**
 * Proof that a served certificate is right: for one name, a real TLS handshake with that SNI name
 * trusting ONLY the given root (default hostname check, rejectUnauthorized), then an HTTPS GET over
 * a fresh connection checking the body. Used by the demo; it knows nothing of ACME.
 */
import https from 'node:https';
import tls from 'node:tls';
import { helloBody } from './site-server.js';

/** Where to connect and what to trust. */
export interface HandshakeTarget {
  /** The address to connect to (the name is sent only as SNI and checked against the certificate). */
  host: string;
  port: number;
  /** PEM trust anchors: the only ones used (the system store is not). */
  ca: string;
  /** Per connection. Default 5 s. */
  timeoutMs?: number;
}

/** The outcome of verifying one name. */
export interface NameCheck {
  name: string;
  /** True when the handshake verified and the GET answered 200 with the expected body. */
  ok: boolean;
  /** What failed (empty when ok). */
  error: string;
  /** The negotiated protocol, e.g. `TLSv1.3`. */
  protocol?: string;
  /** The served leaf's serial number (hex). */
  serialNumber?: string;
  /** The HTTPS answer's body. */
  body?: string;
}

const DEFAULT_TIMEOUT_MS = 5_000;

function handshake(name: string, t: HandshakeTarget): Promise<{ protocol: string; serialNumber: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: t.host, port: t.port, servername: name, ca: t.ca, rejectUnauthorized: true }, () => {
      const cert = socket.getPeerX509Certificate();
      const result = { protocol: socket.getProtocol() ?? '?', serialNumber: cert?.serialNumber ?? '?' };
      const authorized = socket.authorized;
      const why = socket.authorizationError;
      socket.destroy();
      if (authorized) resolve(result);
      else reject(new Error(`not authorized: ${String(why)}`));
    });
    socket.setTimeout(t.timeoutMs ?? DEFAULT_TIMEOUT_MS, () => socket.destroy(new Error('TLS handshake timed out')));
    socket.once('error', reject);
  });
}

function get(name: string, t: HandshakeTarget): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: t.host, port: t.port, servername: name, path: '/', headers: { host: name }, ca: t.ca, agent: false, timeout: t.timeoutMs ?? DEFAULT_TIMEOUT_MS },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('HTTPS GET timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** Verifies one name: TLS handshake, then HTTPS GET expecting 200 `hello from <name>`. Never rejects. */
export async function verifyName(name: string, target: HandshakeTarget): Promise<NameCheck> {
  let hs: { protocol: string; serialNumber: string };
  try {
    hs = await handshake(name, target);
  } catch (err) {
    return { name, ok: false, error: `TLS: ${err instanceof Error ? err.message : String(err)}` };
  }
  const check: NameCheck = { name, ok: false, error: '', protocol: hs.protocol, serialNumber: hs.serialNumber };
  try {
    const res = await get(name, target);
    check.body = res.body;
    const expected = helloBody(name);
    if (res.status !== 200) check.error = `HTTPS GET answered ${res.status}`;
    else if (res.body !== expected) check.error = `HTTPS GET body ${JSON.stringify(res.body)}, expected ${JSON.stringify(expected)}`;
    else check.ok = true;
  } catch (err) {
    check.error = `HTTPS: ${err instanceof Error ? err.message : String(err)}`;
  }
  return check;
}

/**
 * Verifies every name, at most `concurrency` at a time, calling `onResult` as each finishes.
 * Returns the checks in the order of `names`.
 */
export async function verifyNames(
  names: readonly string[],
  target: HandshakeTarget,
  opts: { concurrency?: number; onResult?: (c: NameCheck) => void } = {},
): Promise<NameCheck[]> {
  const results: NameCheck[] = new Array<NameCheck>(names.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < names.length; i = next++) {
      const c = await verifyName(names[i] as string, target);
      results[i] = c;
      opts.onResult?.(c);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 16, names.length) }, worker));
  return results;
}
