/**
 * A fake OVH API v1 for the `ovh` dns-01 provider's tests: a real HTTP server on 127.0.0.1 serving
 * under `/1.0` just the calls the provider makes, with the zone records in memory.
 *
 * It authenticates like OVH does, and checks the signature on its own (it does not import the
 * provider's signing code): `X-Ovh-Signature` must be `"$1$" + sha1hex(AS+CK+METHOD+URL+BODY+TIMESTAMP)`
 * joined by `+`, over the URL as requested (`http://<Host><path?query>`) and the body bytes as received,
 * and `X-Ovh-Timestamp` must be within `timestampWindowSec` of the server's clock. Its error documents
 * have OVH's shape, as seen from the real API:
 *
 *     403 {"errorCode":"INVALID_KEY","httpCode":"403 Forbidden","message":"Invalid application key"}
 *     403 {"errorCode":"INVALID_CREDENTIAL","httpCode":"403 Forbidden","message":"This credential does not exist"}
 *     400 {"errorCode":"QUERY_TIME_OUT","httpCode":"400 Bad Request","message":"Query out of time"}
 *     400 {"errorCode":"INVALID_SIGNATURE","httpCode":"400 Bad Request","message":"Invalid signature"}
 *
 * TXT targets are stored and returned in double quotes, as OVH returns them. The server's clock can be
 * put off the local one (`clockOffsetSec`) to check that a client uses `GET /auth/time`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';

export interface FakeOvhOptions {
  applicationKey: string;
  applicationSecret: string;
  consumerKey: string;
  /** The zones of the account (`GET /domain/zone`). */
  zones: string[];
  /** The server clock minus the local clock, in seconds. Default 0. */
  clockOffsetSec?: number;
  /** How far X-Ovh-Timestamp may be from the server clock. Default 180 s (OVH does not document its window). */
  timestampWindowSec?: number;
}

export interface FakeOvhRecord {
  id: number;
  zone: string;
  subDomain: string;
  fieldType: string;
  target: string;
  ttl: number;
}

export interface FakeOvhRequest {
  method: string;
  /** Path and query, e.g. `/1.0/domain/zone/example.test/record?fieldType=TXT&subDomain=_acme-challenge`. */
  path: string;
  status: number;
  errorCode?: string;
}

export interface FakeOvhApi {
  /** The API root to give the provider as its endpoint: `http://127.0.0.1:PORT/1.0`. */
  url: string;
  /** Every request received, in order. */
  requests: FakeOvhRequest[];
  /** How many `POST /domain/zone/{zone}/refresh` succeeded for `zone`. */
  refreshes(zone: string): number;
  /** The records of `zone`, stored form (TXT targets quoted). */
  records(zone: string): FakeOvhRecord[];
  /** Adds a record directly (someone else's), as if created through the API. */
  addRecord(zone: string, rec: { subDomain: string; fieldType: string; target: string; ttl?: number }): FakeOvhRecord;
  close(): Promise<void>;
}

function ovhError(status: number, errorCode: string | undefined, message: string): { status: number; body: Record<string, string> } {
  const reason = http.STATUS_CODES[status] ?? '';
  const body: Record<string, string> = { message, httpCode: `${status} ${reason}` };
  if (errorCode !== undefined) body.errorCode = errorCode;
  return { status, body };
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startFakeOvhApi(opts: FakeOvhOptions): Promise<FakeOvhApi> {
  const window = opts.timestampWindowSec ?? 180;
  const offset = opts.clockOffsetSec ?? 0;
  const zones = new Map<string, Map<number, FakeOvhRecord>>(opts.zones.map((z) => [z, new Map()]));
  const refreshCount = new Map<string, number>();
  const requests: FakeOvhRequest[] = [];
  let nextId = 1_000_000;
  const now = (): number => Math.floor(Date.now() / 1000) + offset;

  const store = (zone: string, rec: { subDomain: string; fieldType: string; target: string; ttl?: number }): FakeOvhRecord => {
    const target = rec.fieldType === 'TXT' && !/^".*"$/.test(rec.target) ? `"${rec.target}"` : rec.target;
    const r: FakeOvhRecord = { id: nextId++, zone, subDomain: rec.subDomain, fieldType: rec.fieldType, target, ttl: rec.ttl ?? 0 };
    zones.get(zone)!.set(r.id, r);
    return r;
  };

  function authenticate(req: http.IncomingMessage, body: string): { status: number; body: unknown } | undefined {
    const h = (name: string): string | undefined => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    const ak = h('x-ovh-application');
    if (ak === undefined || !sameString(ak, opts.applicationKey)) return ovhError(403, 'INVALID_KEY', 'Invalid application key');
    const ck = h('x-ovh-consumer');
    if (ck === undefined || !sameString(ck, opts.consumerKey)) return ovhError(403, 'INVALID_CREDENTIAL', 'This credential does not exist');
    const ts = h('x-ovh-timestamp');
    if (ts === undefined || !/^[0-9]+$/.test(ts) || Math.abs(Number(ts) - now()) > window) return ovhError(400, 'QUERY_TIME_OUT', 'Query out of time');
    const url = `http://${h('host') ?? ''}${req.url ?? ''}`;
    const expected = '$1$' + createHash('sha1').update([opts.applicationSecret, opts.consumerKey, (req.method ?? '').toUpperCase(), url, body, ts].join('+'), 'utf8').digest('hex');
    const sig = h('x-ovh-signature');
    if (sig === undefined || !sameString(sig, expected)) return ovhError(400, 'INVALID_SIGNATURE', 'Invalid signature');
    return undefined;
  }

  function route(method: string, url: URL, body: string): { status: number; body: unknown } {
    const p = url.pathname;
    if (method === 'GET' && p === '/1.0/domain/zone') return { status: 200, body: [...zones.keys()] };
    const m = /^\/1\.0\/domain\/zone\/([^/]+)\/(record|refresh)(?:\/([^/]+))?$/.exec(p);
    if (m === null) return ovhError(404, undefined, `Got an invalid (or empty) URL`);
    const zone = decodeURIComponent(m[1]!);
    const records = zones.get(zone);
    if (records === undefined) return ovhError(404, undefined, `This service does not exist`);
    if (m[2] === 'refresh') {
      if (method !== 'POST' || m[3] !== undefined) return ovhError(405, undefined, 'Method not allowed');
      refreshCount.set(zone, (refreshCount.get(zone) ?? 0) + 1);
      return { status: 200, body: null };
    }
    if (m[3] === undefined) {
      if (method === 'GET') {
        const fieldType = url.searchParams.get('fieldType');
        const subDomain = url.searchParams.get('subDomain');
        const ids = [...records.values()]
          .filter((r) => (fieldType === null || r.fieldType === fieldType) && (subDomain === null || r.subDomain === subDomain))
          .map((r) => r.id);
        return { status: 200, body: ids };
      }
      if (method === 'POST') {
        let doc: Record<string, unknown>;
        try {
          doc = JSON.parse(body) as Record<string, unknown>;
        } catch {
          return ovhError(400, undefined, 'Invalid JSON received');
        }
        const { fieldType, subDomain, target, ttl } = doc;
        if (typeof fieldType !== 'string' || typeof target !== 'string' || (subDomain !== undefined && typeof subDomain !== 'string') || (ttl !== undefined && typeof ttl !== 'number')) {
          return ovhError(400, undefined, 'Invalid parameters');
        }
        const rec = store(zone, { fieldType, subDomain: (subDomain as string | undefined) ?? '', target, ...(ttl === undefined ? {} : { ttl: ttl as number }) });
        return { status: 200, body: rec };
      }
      return ovhError(405, undefined, 'Method not allowed');
    }
    const rec = records.get(Number(m[3]));
    if (rec === undefined) return ovhError(404, undefined, `The requested object (id = ${m[3]}) does not exist`);
    if (method === 'GET') return { status: 200, body: rec };
    if (method === 'DELETE') {
      records.delete(rec.id);
      return { status: 200, body: null };
    }
    return ovhError(405, undefined, 'Method not allowed');
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const method = req.method ?? 'GET';
      const url = new URL(req.url ?? '/', 'http://fake-ovh');
      let out: { status: number; body: unknown };
      if (method === 'GET' && url.pathname === '/1.0/auth/time') out = { status: 200, body: now() };
      else out = authenticate(req, body) ?? route(method, url, body);
      const entry: FakeOvhRequest = { method, path: req.url ?? '', status: out.status };
      const code = (out.body as { errorCode?: unknown } | null)?.errorCode;
      if (typeof code === 'string') entry.errorCode = code;
      requests.push(entry);
      res.writeHead(out.status, { 'Content-Type': 'application/json; charset=utf-8', 'X-Ovh-QueryId': `FAKE.${requests.length}` });
      res.end(JSON.stringify(out.body));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;

  return {
    url: `http://127.0.0.1:${port}/1.0`,
    requests,
    refreshes: (zone) => refreshCount.get(zone) ?? 0,
    records: (zone) => [...(zones.get(zone)?.values() ?? [])].map((r) => ({ ...r })),
    addRecord: (zone, rec) => {
      if (!zones.has(zone)) throw new Error(`fake OVH: no zone ${zone}`);
      return store(zone, rec);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
