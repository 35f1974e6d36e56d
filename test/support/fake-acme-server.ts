/**
 * A scripted fake ACME CA (RFC 8555) for protocol tests: a real `node:http` server on 127.0.0.1:0 that
 * speaks real JWS. Every POST's flattened JWS is verified with jose (the `jwk` header for newAccount, the
 * account's `kid` otherwise), its `url` header must equal the request URL and its nonce must be one this
 * server issued and not yet used (else 400 badNonce). Every response carries a fresh `Replay-Nonce`.
 *
 * Default behaviour: newOrder creates a `pending` order with one `pending` authorization per identifier,
 * each with one http-01 challenge; a challenge POST makes its authorization `valid` (so the order turns
 * `ready`); finalize stores the CSR and answers `processing`; the next order poll answers `valid` with a
 * certificate URL; the download is a real leaf signed for the finalized CSR by a throwaway CA (openssl), plus that CA.
 *
 * Scripting (undici-style): `ca.script(endpoint, reply)` queues a reply for the next matching request
 * (`'any'` matches every endpoint); entries are used in the order they were queued, `times` each (default
 * 1, `Infinity` for always). An empty reply `{}` lets one request through unchanged, so a test can target
 * the second poll. A reply with a `problem` or a status >= 400 replaces the response and skips the
 * server's own handling (no state change); any other reply is applied on top of the normal response
 * (state changes happen): `status` and `headers` override, `body` is merged (object) or mapped (function),
 * `raw` replaces the body with a string, `omitNonce`, `truncate`, `hugeBody` and `delayMs` alter delivery.
 *
 * ACME Renewal Information (RFC 9773) and profiles (draft-aaron-acme-profiles), opt-in: `start({ ari: true })`
 * advertises `renewalInfo` in the directory and `start({ profiles })` advertises `meta.profiles`. The
 * renewalInfo resource (`GET /renewal-info/{certID}`, unauthenticated, served whether advertised or not)
 * answers a window set with `setRenewalInfo(certId, ...)`, else a default window for a certificate this CA
 * issued (the certID computed here from the CA's Subject Key Identifier as openssl reports it and the serial
 * it chose), else 404. newOrder records `replaces`, `notBefore`, `notAfter` and `profile` (`orderRequest`),
 * echoes them in the order, issues the leaf with exactly the requested validity, refuses (400 malformed) a
 * `replaces` naming no certificate it issued, or one issued to another account or for no shared identifier,
 * refuses (409 alreadyReplaced) a certificate already replaced by a live order (RFC 9773 §5), and refuses
 * (400 invalidProfile) a profile it does not list.
 */
import { execFile } from 'node:child_process';
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, flattenedVerify, importJWK, type FlattenedJWSInput, type JWK } from 'jose';

const execFileAsync = promisify(execFile);
const ACME_ERROR = 'urn:ietf:params:acme:error:';

export type Endpoint =
  | 'directory'
  | 'newNonce'
  | 'newAccount'
  | 'account'
  | 'newOrder'
  | 'order'
  | 'authorization'
  | 'challenge'
  | 'finalize'
  | 'download'
  | 'renewalInfo'
  | 'unknown';

export interface ProblemDoc {
  type: string;
  detail?: string;
  status?: number;
  subproblems?: Array<{ type: string; detail?: string; identifier?: { type: string; value: string } }>;
}

/** Resource bodies are free-form JSON in tests. */
type Json = any;

export interface Reply {
  /** How many matching requests this reply answers (default 1; `Infinity` for every one). */
  times?: number;
  status?: number;
  /** Merged over the normal headers; `undefined` removes one. A function is called at response time. */
  headers?: Record<string, string | undefined> | (() => Record<string, string | undefined>);
  /** A problem document (short type like `'rateLimited'`, or the whole document): an error reply. */
  problem?: string | ProblemDoc;
  /** Object: shallow-merged over the normal JSON body. Function: maps the normal body to the new one. */
  body?: Record<string, unknown> | ((normal: Json) => unknown);
  /** The body, verbatim (e.g. `'{not json'`). */
  raw?: string;
  /** Send no Replay-Nonce header. */
  omitNonce?: boolean;
  /** Announce the full Content-Length, send half the body, then cut the connection. */
  truncate?: boolean;
  /** Stream this many bytes instead of the body (with backpressure; stops when the client hangs up). */
  hugeBody?: number;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface Call {
  seq: number;
  endpoint: Endpoint;
  method: string;
  path: string;
  /** performance.now() when the request arrived. */
  at: number;
  /** The JWS protected header's nonce (POST only). */
  nonce?: string | undefined;
  kid?: string | undefined;
  /** The decoded JWS payload: `''` for POST-as-GET. */
  payload?: unknown;
  /** HTTP status answered (set when the response is sent). */
  status?: number;
  /** The Replay-Nonce sent in the response. */
  issuedNonce?: string | undefined;
  /** Whether a scripted reply answered it. */
  scripted: boolean;
}

export interface DirectoryUrls {
  newNonce: string;
  newAccount: string;
  newOrder: string;
}

export interface StartOptions {
  /** The directory body; default: the three URLs, plus `revokeCert`, `keyChange` and a `meta`. */
  directory?: (urls: DirectoryUrls) => unknown;
  /** Advertise `renewalInfo` (RFC 9773 §3) in the default directory. */
  ari?: boolean;
  /** Advertise these certificate profiles (name → description) as the default directory's `meta.profiles`. */
  profiles?: Record<string, string>;
  /** Issued serial numbers are `serialBase + order id` (default 1000n); e.g. `2n ** 71n` sets the high bit. */
  serialBase?: bigint;
}

/** A renewal window the renewalInfo resource answers for one certID (RFC 9773 §4.2). */
export interface RenewalWindow {
  /** Dates are sent as RFC 3339 (`toISOString`); strings verbatim (to send malformed ones). */
  start: Date | string;
  end: Date | string;
  explanationURL?: string;
  /** The Retry-After header value, verbatim (seconds or an HTTP-date); omitted when undefined. */
  retryAfter?: string;
}

/** What a newOrder asked for, exactly as sent (undefined fields were absent). */
export interface OrderRequest {
  identifiers: Array<{ type: string; value: string }>;
  replaces?: unknown;
  notBefore?: unknown;
  notAfter?: unknown;
  profile?: unknown;
  /** The account (`kid`) that created the order. */
  account?: string | undefined;
}

/** A certificate this CA issued, by certID (RFC 9773 §4.1). */
interface IssuedCert {
  orderId: number;
  account: string | undefined;
  identifiers: Array<{ type: string; value: string }>;
  notBefore: Date;
  notAfter: Date;
}

interface ScriptEntry {
  endpoint: Endpoint | 'any';
  reply: Reply;
  left: number;
  used: number;
}

interface AuthzState {
  id: number;
  identifier: { type: string; value: string };
  status: 'pending' | 'valid' | 'invalid' | 'deactivated';
  challenge: { id: number; token: string; status: 'pending' | 'processing' | 'valid' | 'invalid' };
}

interface OrderState {
  id: number;
  status: 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
  identifiers: Array<{ type: string; value: string }>;
  authzIds: number[];
  expires: string;
  csrDer?: Buffer;
  /** The chain served for this order, once downloaded. */
  chainPem?: string;
  /** The newOrder request (absent for orders made with addOrder). */
  request?: OrderRequest;
  /** The certID of the certificate issued for this order (RFC 9773 §4.1), once downloaded. */
  certId?: string;
}

interface Verified {
  /** The decoded payload; `''` for POST-as-GET. */
  payload: unknown;
  jwk: JWK;
  /** The account URL (`kid`), for every request but newAccount. */
  kid?: string | undefined;
}

interface Outcome {
  status: number;
  headers: Record<string, string | undefined>;
  body?: Json;
}

let chainPromise: Promise<string> | undefined;

/** A leaf (CN/SAN a.test) and a self-signed "CA", generated once per process with openssl. */
function testChain(): Promise<string> {
  const one = async (cn: string, san: string): Promise<string> => {
    const { stdout } = await execFileAsync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', '/dev/null',
      '-subj', `/CN=${cn}`, '-days', '90', '-addext', `subjectAltName=${san}`,
    ]);
    return stdout;
  };
  chainPromise ??= Promise.all([one('a.test', 'DNS:a.test'), one('Fake ACME CA', 'DNS:fake-ca.test')]).then(([leaf, ca]) => leaf + ca);
  return chainPromise;
}

/**
 * A throwaway CA (key + certificate files) that signs the CSRs finalize receives, made once per process,
 * with its Subject Key Identifier as openssl prints it (every leaf's AKI keyIdentifier, RFC 5280 §4.2.1.1).
 */
let issuerPromise: Promise<{ dir: string; caPem: string; ski: Buffer }> | undefined;

function issuer(): Promise<{ dir: string; caPem: string; ski: Buffer }> {
  issuerPromise ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leec-fake-ca-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    await execFileAsync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'), '-subj', '/CN=Fake ACME CA', '-days', '30',
    ]);
    const { stdout } = await execFileAsync('openssl', ['x509', '-in', join(dir, 'ca.pem'), '-noout', '-ext', 'subjectKeyIdentifier']);
    const hex = /Subject Key Identifier:\s*([0-9A-Fa-f:]+)/.exec(stdout)?.[1];
    if (!hex) throw new Error(`fake CA: no subjectKeyIdentifier in ${stdout}`);
    return { dir, caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'), ski: Buffer.from(hex.replace(/:/g, ''), 'hex') };
  })();
  return issuerPromise;
}

/** An `openssl ca` configuration that signs one CSR with the fake CA, its database and serial in `work`. */
function caConfig(dir: string, work: string): string {
  return [
    '[ca]', 'default_ca = fake', '[fake]',
    `database = ${join(work, 'index.txt')}`, `serial = ${join(work, 'serial')}`, `new_certs_dir = ${work}`,
    `certificate = ${join(dir, 'ca.pem')}`, `private_key = ${join(dir, 'ca.key')}`,
    'default_md = sha256', 'policy = any', 'copy_extensions = copy', 'unique_subject = no', 'email_in_dn = no',
    'x509_extensions = leaf', '[any]', 'commonName = optional',
    '[leaf]', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid:always', '',
  ].join('\n');
}

/** `YYYYMMDDHHMMSSZ` for `openssl ca -startdate/-enddate` (whole seconds, as X.509 times are). */
function opensslTime(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:T]/g, '');
}

/**
 * Issues a real leaf for the CSR (its key and SANs, RFC 8555 §7.4), chained to the fake CA. With a
 * `validity` (the order's notBefore/notAfter, §7.4), the leaf has exactly that validity (`openssl ca`);
 * otherwise 90 days from now (`openssl x509 -req`).
 */
async function issueFor(csrDer: Buffer, serial: bigint, validity?: { notBefore: Date; notAfter: Date }): Promise<string> {
  const { dir, caPem } = await issuer();
  const work = mkdtempSync(join(dir, 'issue-'));
  try {
    const csrPath = join(work, 'csr.der');
    writeFileSync(csrPath, csrDer);
    if (validity === undefined) {
      const { stdout } = await execFileAsync('openssl', [
        'x509', '-req', '-inform', 'DER', '-in', csrPath, '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'),
        '-set_serial', `0x${serial.toString(16)}`, '-days', '90', '-copy_extensions', 'copy',
      ]);
      return stdout + caPem;
    }
    const hex = serial.toString(16);
    writeFileSync(join(work, 'serial'), `${hex.length % 2 ? '0' : ''}${hex}\n`);
    writeFileSync(join(work, 'index.txt'), '');
    writeFileSync(join(work, 'ca.cnf'), caConfig(dir, work));
    writeFileSync(join(work, 'csr.pem'), `-----BEGIN CERTIFICATE REQUEST-----\n${csrDer.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE REQUEST-----\n`);
    await execFileAsync('openssl', [
      'ca', '-batch', '-config', join(work, 'ca.cnf'), '-in', join(work, 'csr.pem'), '-notext', '-preserveDN',
      '-out', join(work, 'leaf.pem'), '-startdate', opensslTime(validity.notBefore), '-enddate', opensslTime(validity.notAfter),
    ]);
    return readFileSync(join(work, 'leaf.pem'), 'utf8') + caPem;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** RFC 9773 §4.1 certID, computed the CA's way: the issuer's key identifier and the serial it chose. */
function certIdFor(issuerSki: Buffer, serial: bigint): string {
  let hex = serial.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  // DER INTEGER content octets of a positive number: a leading 00 when the high bit is set (X.690 §8.3).
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = `00${hex}`;
  return `${issuerSki.toString('base64url')}.${Buffer.from(hex, 'hex').toString('base64url')}`;
}

class HttpProblem extends Error {
  constructor(readonly status: number, readonly problem: ProblemDoc) {
    super(problem.detail ?? problem.type);
  }
}

const problem = (status: number, short: string, detail: string): HttpProblem =>
  new HttpProblem(status, { type: ACME_ERROR + short, detail, status });

const DEFAULT_PROBLEM_STATUS: Record<string, number> = {
  badNonce: 400,
  rateLimited: 429,
  orderNotReady: 403,
  unauthorized: 403,
  serverInternal: 500,
};

export class FakeAcmeServer {
  readonly calls: Call[] = [];
  /** The base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly directoryUrl: string;

  readonly #server: http.Server;
  readonly #chainPem: string;
  readonly #directory: ((urls: DirectoryUrls) => unknown) | undefined;
  readonly #scripts: ScriptEntry[] = [];
  readonly #issuedNonces = new Set<string>();
  readonly #accounts = new Map<string, JWK>();
  readonly #accountByThumbprint = new Map<string, string>();
  readonly #orders = new Map<number, OrderState>();
  readonly #authzs = new Map<number, AuthzState>();
  readonly #waiters: Array<{ endpoint: Endpoint; n: number; resolve: () => void }> = [];
  readonly #ari: boolean;
  readonly #profiles: Record<string, string> | undefined;
  readonly #serialBase: bigint;
  /** Certificates issued, by certID (RFC 9773 §4.1). */
  readonly #issued = new Map<string, IssuedCert>();
  /** certID → the order id that replaces it (RFC 9773 §5). */
  readonly #replacedBy = new Map<string, number>();
  /** Scripted renewal windows, by certID. */
  readonly #windows = new Map<string, RenewalWindow>();
  #nextId = 1;

  private constructor(server: http.Server, chainPem: string, opts: StartOptions) {
    this.#server = server;
    this.#chainPem = chainPem;
    this.#directory = opts.directory;
    this.#ari = opts.ari ?? false;
    this.#profiles = opts.profiles;
    this.#serialBase = opts.serialBase ?? 1000n;
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.directoryUrl = `${this.url}/dir`;
    server.on('request', (req, res) => void this.#handle(req, res));
  }

  static async start(opts: StartOptions = {}): Promise<FakeAcmeServer> {
    const chain = await testChain();
    const server = http.createServer({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new FakeAcmeServer(server, chain, opts);
  }

  /** The PEM chain the download serves (leaf first). */
  get chainPem(): string {
    return this.#chainPem;
  }

  /** Queues a reply for the next request(s) to `endpoint`. */
  script(endpoint: Endpoint | 'any', reply: Reply): this {
    const times = reply.times ?? 1;
    this.#scripts.push({ endpoint, reply, left: times, used: 0 });
    return this;
  }

  /** How many requests reached `endpoint` (optionally only those with this method). */
  count(endpoint: Endpoint, method?: string): number {
    return this.calls.filter((c) => c.endpoint === endpoint && (method === undefined || c.method === method)).length;
  }

  /** The calls to one endpoint, in arrival order. */
  callsTo(endpoint: Endpoint): Call[] {
    return this.calls.filter((c) => c.endpoint === endpoint);
  }

  /** Resolves once `endpoint` has received `n` requests in all. */
  waitFor(endpoint: Endpoint, n = 1): Promise<void> {
    if (this.count(endpoint) >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ endpoint, n, resolve }));
  }

  /** Throws if a finite scripted reply was not used up, or an `Infinity` one was never used. */
  assertScriptsConsumed(): void {
    const left = this.#scripts.filter((s) => (s.left === Infinity ? s.used === 0 : s.left > 0));
    if (left.length > 0) {
      throw new Error(`unused scripted replies: ${left.map((s) => `${s.endpoint} ${JSON.stringify(s.reply)}`).join('; ')}`);
    }
  }

  /** Creates an order directly (e.g. one to resume); `ready` and later statuses get valid authorizations. */
  addOrder(names: string[], status: OrderState['status'] = 'pending'): string {
    const order = this.#createOrder(names.map((value) => ({ type: 'dns', value })));
    order.status = status;
    if (status !== 'pending') {
      for (const id of order.authzIds) {
        const a = this.#authzs.get(id)!;
        a.status = status === 'invalid' ? 'invalid' : 'valid';
        a.challenge.status = a.status;
      }
    }
    return this.#orderUrl(order.id);
  }

  /** The CSR (DER) the order at `orderUrl` was finalized with. */
  /** The PEM chain served for an order's certificate (after its first download). */
  chainOf(orderOrCertUrl: string): string | undefined {
    return this.#orders.get(Number(orderOrCertUrl.split('/').pop()))?.chainPem;
  }

  csrOf(orderUrl: string): Buffer | undefined {
    return this.#orders.get(Number(orderUrl.split('/').pop()))?.csrDer;
  }

  /** The renewalInfo base URL (RFC 9773 §3), served whether the directory advertises it or not. */
  get renewalInfoUrl(): string {
    return `${this.url}/renewal-info`;
  }

  /** What the newOrder for `orderUrl` asked for, as sent (undefined for orders made with addOrder). */
  orderRequest(orderUrl: string): OrderRequest | undefined {
    return this.#orders.get(Number(orderUrl.split('/').pop()))?.request;
  }

  /** The certID (RFC 9773 §4.1) this CA computed for the certificate of an order, once downloaded. */
  certIdOf(orderOrCertUrl: string): string | undefined {
    return this.#orders.get(Number(orderOrCertUrl.split('/').pop()))?.certId;
  }

  /** The order that replaced the certificate `certId` (RFC 9773 §5), if any. */
  replacedBy(certId: string): string | undefined {
    const id = this.#replacedBy.get(certId);
    return id === undefined ? undefined : this.#orderUrl(id);
  }

  /** Scripts the renewalInfo answer for `certId` (known to this CA or not), until set again. */
  setRenewalInfo(certId: string, window: RenewalWindow): this {
    this.#windows.set(certId, window);
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ---------------------------------------------------------------- request handling

  #nonce(): string {
    const n = randomBytes(16).toString('base64url');
    this.#issuedNonces.add(n);
    return n;
  }

  #orderUrl(id: number): string {
    return `${this.url}/order/${id}`;
  }

  #classify(method: string, path: string): Endpoint {
    if (path === '/dir') return 'directory';
    if (path === '/new-nonce') return 'newNonce';
    if (path === '/new-account') return 'newAccount';
    if (path === '/new-order') return 'newOrder';
    // RFC 9773 §4.1: an unauthenticated GET; the certID is two base64url parts.
    if (/^\/renewal-info\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(path)) return method === 'GET' ? 'renewalInfo' : 'unknown';
    const m = /^\/(acct|order|authz|chall|finalize|cert)\/\d+$/.exec(path);
    const kind = m?.[1];
    if (kind === undefined || method !== 'POST') return 'unknown';
    const byKind: Record<string, Endpoint> = {
      acct: 'account',
      order: 'order',
      authz: 'authorization',
      chall: 'challenge',
      finalize: 'finalize',
      cert: 'download',
    };
    return byKind[kind] ?? 'unknown';
  }

  #takeScript(endpoint: Endpoint): Reply | undefined {
    const entry = this.#scripts.find((s) => s.left > 0 && (s.endpoint === endpoint || s.endpoint === 'any'));
    if (!entry) return undefined;
    entry.left -= 1;
    entry.used += 1;
    return entry.reply;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', this.url).pathname;
    const endpoint = this.#classify(method, path);
    const call: Call = { seq: this.calls.length, endpoint, method, path, at: performance.now(), scripted: false };
    this.calls.push(call);
    for (const w of this.#waiters.filter((w) => w.endpoint === endpoint && this.count(endpoint) >= w.n)) {
      this.#waiters.splice(this.#waiters.indexOf(w), 1);
      w.resolve();
    }
    res.on('error', () => undefined);

    let outcome: Outcome;
    let reply: Reply | undefined;
    try {
      const raw = await readBody(req);
      let verified: Verified | undefined;
      if (method === 'POST' && endpoint !== 'unknown') {
        verified = await this.#verify(req, raw, endpoint, call);
        call.payload = verified.payload;
      }
      reply = this.#takeScript(endpoint);
      call.scripted = reply !== undefined;
      if (reply && (reply.problem !== undefined || (reply.status ?? 0) >= 400)) {
        outcome = scriptedError(reply);
      } else {
        outcome = await this.#route(endpoint, method, path, verified);
        if (reply) outcome = applyReply(outcome, reply);
      }
    } catch (e) {
      const p = e instanceof HttpProblem ? e : problem(500, 'serverInternal', `fake CA bug: ${(e as Error).stack ?? String(e)}`);
      outcome = { status: p.status, headers: { 'content-type': 'application/problem+json' }, body: p.problem };
    }

    if (reply?.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    const headers: Record<string, string> = { 'cache-control': 'no-store' };
    for (const [k, v] of Object.entries(outcome.headers)) if (v !== undefined) headers[k] = v;
    if (!reply?.omitNonce) {
      call.issuedNonce = this.#nonce();
      headers['replay-nonce'] = call.issuedNonce;
    }
    headers.link = `<${this.directoryUrl}>;rel="index"${headers.link ? `, ${headers.link}` : ''}`;
    call.status = outcome.status;

    if (reply?.raw !== undefined) outcome.body = reply.raw;
    const body =
      outcome.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(outcome.body) ? outcome.body
        : Buffer.from(typeof outcome.body === 'string' ? outcome.body : JSON.stringify(outcome.body));
    if (outcome.body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';

    if (reply?.hugeBody !== undefined) return sendHuge(res, outcome.status, headers, reply.hugeBody);
    headers['content-length'] = String(body.length);
    res.writeHead(outcome.status, headers);
    if (reply?.truncate) {
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
      return;
    }
    res.end(method === 'HEAD' ? undefined : body);
  }

  /** §6.2-§6.4: signature, `url`, nonce, and `jwk` only for newAccount. */
  async #verify(req: http.IncomingMessage, raw: Buffer, endpoint: Endpoint, call: Call): Promise<Verified> {
    const type = req.headers['content-type'];
    if (type !== 'application/jose+json') throw problem(415, 'malformed', `content-type ${String(type)}, want application/jose+json`);
    let jws: FlattenedJWSInput;
    let header: { alg?: string; jwk?: JWK; kid?: string; nonce?: string; url?: string };
    try {
      jws = JSON.parse(raw.toString('utf8')) as FlattenedJWSInput;
      header = JSON.parse(Buffer.from(jws.protected ?? '', 'base64url').toString('utf8')) as typeof header;
    } catch {
      throw problem(400, 'malformed', 'the body is not a flattened JWS');
    }
    call.nonce = header.nonce;
    call.kid = header.kid;
    const alg = header.alg ?? '';
    if (!['ES256', 'ES384', 'RS256'].includes(alg)) throw problem(400, 'badSignatureAlgorithm', `alg ${alg}`);
    let jwk: JWK;
    if (endpoint === 'newAccount') {
      if (!header.jwk || header.kid !== undefined) throw problem(400, 'malformed', 'newAccount needs jwk and no kid');
      jwk = header.jwk;
    } else {
      if (header.jwk || typeof header.kid !== 'string') throw problem(400, 'malformed', 'kid and no jwk expected');
      const known = this.#accounts.get(header.kid);
      if (!known) throw problem(400, 'accountDoesNotExist', `no account ${header.kid}`);
      jwk = known;
    }
    const kid = endpoint === 'newAccount' ? undefined : header.kid;
    let payloadBytes: Uint8Array;
    try {
      const key = await importJWK(jwk, alg);
      ({ payload: payloadBytes } = await flattenedVerify(jws, key, { algorithms: [alg] }));
    } catch (e) {
      throw problem(400, 'malformed', `JWS verification failed: ${(e as Error).message}`);
    }
    const expectedUrl = this.url + (req.url ?? '');
    if (header.url !== expectedUrl) throw problem(401, 'unauthorized', `url header ${String(header.url)}, request to ${expectedUrl}`);
    if (typeof header.nonce !== 'string' || !this.#issuedNonces.delete(header.nonce)) {
      throw problem(400, 'badNonce', `nonce ${String(header.nonce)} unknown or already used`);
    }
    const text = new TextDecoder().decode(payloadBytes);
    let payload: unknown = '';
    if (text !== '') {
      try {
        payload = JSON.parse(text);
      } catch {
        throw problem(400, 'malformed', 'payload is not JSON');
      }
    }
    return { payload, jwk, kid };
  }

  async #route(endpoint: Endpoint, method: string, path: string, verified: Verified | undefined): Promise<Outcome> {
    const id = Number(path.split('/').pop());
    const payload = verified?.payload;
    switch (endpoint) {
      case 'directory':
        return { status: 200, headers: {}, body: this.#directoryBody() };
      case 'newNonce':
        return { status: method === 'HEAD' ? 200 : 204, headers: {} };
      case 'newAccount':
        return this.#newAccount(verified!.jwk, payload);
      case 'account':
        return { status: 200, headers: {}, body: { status: 'valid', orders: `${this.url}/acct/${id}/orders` } };
      case 'newOrder':
        return this.#newOrder(payload, verified?.kid);
      case 'order':
        return this.#pollOrder(id);
      case 'authorization':
        return this.#authorization(id, payload);
      case 'challenge':
        return this.#challenge(id);
      case 'finalize':
        return this.#finalize(id, payload);
      case 'download':
      {
        const order = this.#orders.get(id);
        if (!order) throw problem(404, 'malformed', `no certificate ${id}`);
        // A real leaf for the finalized CSR when there is one, so the client can store it with its key.
        order.chainPem ??= order.csrDer ? await this.#issue(order) : this.#chainPem;
        const body = order.chainPem;
        return { status: 200, headers: { 'content-type': 'application/pem-certificate-chain' }, body };
      }
      case 'renewalInfo':
        return this.#renewalInfo(path.slice('/renewal-info/'.length));
      case 'unknown':
        throw problem(404, 'malformed', `no resource ${method} ${path}`);
    }
  }

  #directoryBody(): unknown {
    const urls: DirectoryUrls = { newNonce: `${this.url}/new-nonce`, newAccount: `${this.url}/new-account`, newOrder: `${this.url}/new-order` };
    if (this.#directory) return this.#directory(urls);
    return {
      ...urls,
      revokeCert: `${this.url}/revoke-cert`,
      keyChange: `${this.url}/key-change`,
      ...(this.#ari ? { renewalInfo: this.renewalInfoUrl } : {}),
      meta: {
        termsOfService: `${this.url}/terms`,
        externalAccountRequired: false,
        ...(this.#profiles ? { profiles: this.#profiles } : {}),
      },
    };
  }

  /** Signs the order's CSR with the validity it asked for, and records the certificate by certID. */
  async #issue(order: OrderState): Promise<string> {
    const serial = this.#serialBase + BigInt(order.id);
    const validity = order.request ? requestedValidity(order.request) : undefined;
    const chain = await issueFor(order.csrDer!, serial, validity);
    const leaf = new X509Certificate(chain);
    const certId = certIdFor((await issuer()).ski, serial);
    order.certId = certId;
    this.#issued.set(certId, {
      orderId: order.id,
      account: order.request?.account,
      identifiers: order.identifiers,
      notBefore: new Date(leaf.validFrom),
      notAfter: new Date(leaf.validTo),
    });
    return chain;
  }

  /**
   * RFC 9773 §4.2: the scripted window, else one for a certificate issued here (from two thirds of its
   * lifetime to three quarters, Retry-After six hours), else 404.
   */
  #renewalInfo(certId: string): Outcome {
    const scripted = this.#windows.get(certId);
    const issued = this.#issued.get(certId);
    if (!scripted && !issued) throw problem(404, 'malformed', `no certificate ${certId} issued here`);
    const life = issued ? issued.notAfter.getTime() - issued.notBefore.getTime() : 0;
    const w: RenewalWindow = scripted ?? {
      start: new Date(issued!.notBefore.getTime() + (life * 2) / 3),
      end: new Date(issued!.notBefore.getTime() + (life * 3) / 4),
      retryAfter: '21600',
    };
    const stamp = (d: Date | string): string => (d instanceof Date ? d.toISOString() : d);
    return {
      status: 200,
      headers: w.retryAfter === undefined ? {} : { 'retry-after': w.retryAfter },
      body: {
        suggestedWindow: { start: stamp(w.start), end: stamp(w.end) },
        ...(w.explanationURL === undefined ? {} : { explanationURL: w.explanationURL }),
      },
    };
  }

  #renderOrder(o: OrderState): Json {
    let status = o.status;
    if (status === 'pending') {
      const authzs = o.authzIds.map((id) => this.#authzs.get(id)!);
      if (authzs.some((a) => a.status === 'invalid')) status = 'invalid';
      else if (authzs.every((a) => a.status === 'valid')) status = 'ready';
      o.status = status;
    }
    return {
      status,
      expires: o.expires,
      identifiers: o.identifiers,
      authorizations: o.authzIds.map((id) => `${this.url}/authz/${id}`),
      finalize: `${this.url}/finalize/${o.id}`,
      ...(status === 'valid' ? { certificate: `${this.url}/cert/${o.id}` } : {}),
      ...echoedFields(o.request, this.#profiles !== undefined),
    };
  }

  #createOrder(identifiers: Array<{ type: string; value: string }>): OrderState {
    const authzIds = identifiers.map((identifier) => {
      const a: AuthzState = {
        id: this.#nextId++,
        identifier,
        status: 'pending',
        challenge: { id: this.#nextId++, token: randomBytes(16).toString('base64url'), status: 'pending' },
      };
      this.#authzs.set(a.id, a);
      return a.id;
    });
    const order: OrderState = { id: this.#nextId++, status: 'pending', identifiers, authzIds, expires: new Date(Date.now() + 86_400_000).toISOString() };
    this.#orders.set(order.id, order);
    return order;
  }

  #newOrder(payload: unknown, account: string | undefined): Outcome {
    const p = (payload ?? {}) as { identifiers?: unknown; replaces?: unknown; notBefore?: unknown; notAfter?: unknown; profile?: unknown };
    const ids = p.identifiers;
    if (!Array.isArray(ids) || ids.length === 0) throw problem(400, 'malformed', 'newOrder without identifiers');
    const request: OrderRequest = { identifiers: ids as OrderRequest['identifiers'], account };
    for (const k of ['replaces', 'notBefore', 'notAfter', 'profile'] as const) if (k in p) request[k] = p[k];
    requestedValidity(request);
    this.#checkProfile(request.profile);
    const replaced = this.#checkReplaces(request);
    const order = this.#createOrder(request.identifiers);
    order.request = request;
    if (replaced !== undefined) this.#replacedBy.set(replaced, order.id);
    return { status: 201, headers: { location: this.#orderUrl(order.id) }, body: this.#renderOrder(order) };
  }

  /** draft-aaron-acme-profiles: a profile must be one the directory lists (ignored when it lists none). */
  #checkProfile(profile: unknown): void {
    if (profile === undefined || this.#profiles === undefined) return;
    if (typeof profile !== 'string' || !Object.hasOwn(this.#profiles, profile)) {
      throw problem(400, 'invalidProfile', `unknown profile ${JSON.stringify(profile)}`);
    }
  }

  /**
   * RFC 9773 §5: `replaces` must name a certificate issued here, to the same account, sharing an
   * identifier with the new order, and not already replaced by an order that is not invalid (409
   * alreadyReplaced). Answers the certID, or undefined when the order replaces nothing.
   */
  #checkReplaces(request: OrderRequest): string | undefined {
    const certId = request.replaces;
    if (certId === undefined) return undefined;
    if (typeof certId !== 'string') throw problem(400, 'malformed', 'replaces is not a string');
    const cert = this.#issued.get(certId);
    if (!cert) throw problem(400, 'malformed', `replaces ${certId}: no such certificate issued here`);
    if (cert.account !== undefined && cert.account !== request.account) throw problem(400, 'malformed', `replaces ${certId}: issued to another account`);
    const names = new Set(cert.identifiers.map((i) => `${i.type}:${i.value}`));
    if (!request.identifiers.some((i) => names.has(`${i.type}:${i.value}`))) {
      throw problem(400, 'malformed', `replaces ${certId}: the new order shares no identifier with it`);
    }
    const by = this.#replacedBy.get(certId);
    if (by !== undefined && this.#orders.get(by)?.status !== 'invalid') {
      throw problem(409, 'alreadyReplaced', `certificate ${certId} is already replaced by order ${by}`);
    }
    return certId;
  }

  #pollOrder(id: number): Outcome {
    const o = this.#orders.get(id);
    if (!o) throw problem(404, 'malformed', `no order ${id}`);
    if (o.status === 'processing') o.status = 'valid';
    return { status: 200, headers: { location: this.#orderUrl(id) }, body: this.#renderOrder(o) };
  }

  #authorization(id: number, payload: unknown): Outcome {
    const a = this.#authzs.get(id);
    if (!a) throw problem(404, 'malformed', `no authorization ${id}`);
    if (payload !== '' && (payload as { status?: string }).status === 'deactivated') a.status = 'deactivated';
    return { status: 200, headers: {}, body: this.#renderAuthz(a) };
  }

  #renderAuthz(a: AuthzState): Json {
    return {
      identifier: a.identifier,
      status: a.status,
      expires: new Date(Date.now() + 86_400_000).toISOString(),
      challenges: [{ type: 'http-01', url: `${this.url}/chall/${a.challenge.id}`, status: a.challenge.status, token: a.challenge.token }],
    };
  }

  #challenge(id: number): Outcome {
    const a = [...this.#authzs.values()].find((x) => x.challenge.id === id);
    if (!a) throw problem(404, 'malformed', `no challenge ${id}`);
    const answer = { type: 'http-01', url: `${this.url}/chall/${id}`, status: 'processing', token: a.challenge.token };
    // Validation "succeeds" at once: the next authorization poll finds it valid.
    a.challenge.status = 'valid';
    a.status = 'valid';
    return { status: 200, headers: { link: `<${this.url}/authz/${a.id}>;rel="up"` }, body: answer };
  }

  #finalize(id: number, payload: unknown): Outcome {
    const o = this.#orders.get(id);
    if (!o) throw problem(404, 'malformed', `no order ${id}`);
    const status = this.#renderOrder(o).status as string;
    if (status !== 'ready') throw problem(403, 'orderNotReady', `order ${id} is ${status}`);
    const csr = (payload as { csr?: unknown } | undefined)?.csr;
    if (typeof csr !== 'string' || !/^[A-Za-z0-9_-]+$/.test(csr)) throw problem(400, 'badCSR', 'csr is not base64url');
    o.csrDer = Buffer.from(csr, 'base64url');
    o.status = 'processing';
    return { status: 200, headers: { location: this.#orderUrl(id) }, body: this.#renderOrder(o) };
  }

  /** §7.3: 201 for a new key, 200 with the existing account's URL for a known one. */
  async #newAccount(jwk: JWK, payload: Json): Promise<Outcome> {
    const thumbprint = await calculateJwkThumbprint(jwk, 'sha256');
    const existing = this.#accountByThumbprint.get(thumbprint);
    if (existing) return { status: 200, headers: { location: existing }, body: { status: 'valid' } };
    if (payload?.onlyReturnExisting === true) throw problem(400, 'accountDoesNotExist', 'no account for this key');
    const url = `${this.url}/acct/${this.#nextId++}`;
    this.#accounts.set(url, jwk);
    this.#accountByThumbprint.set(thumbprint, url);
    return {
      status: 201,
      headers: { location: url },
      body: { status: 'valid', ...(Array.isArray(payload?.contact) ? { contact: payload.contact } : {}), orders: `${url}/orders` },
    };
  }
}

/**
 * RFC 8555 §7.4: the validity a newOrder asked for (either bound alone: from now, or 90 days from
 * notBefore), or undefined when it asked for none. 400 malformed for unparsable or inverted bounds.
 */
function requestedValidity(r: OrderRequest): { notBefore: Date; notAfter: Date } | undefined {
  if (r.notBefore === undefined && r.notAfter === undefined) return undefined;
  const parse = (v: unknown, name: string): Date | undefined => {
    if (v === undefined) return undefined;
    const t = typeof v === 'string' ? Date.parse(v.toUpperCase()) : NaN;
    if (Number.isNaN(t)) throw problem(400, 'malformed', `${name} ${JSON.stringify(v)} is not an RFC 3339 timestamp`);
    return new Date(t);
  };
  const notBefore = parse(r.notBefore, 'notBefore') ?? new Date(Math.floor(Date.now() / 1000) * 1000);
  const notAfter = parse(r.notAfter, 'notAfter') ?? new Date(notBefore.getTime() + 90 * 86_400_000);
  if (notBefore.getTime() >= notAfter.getTime()) throw problem(400, 'malformed', 'notBefore is not before notAfter');
  return { notBefore, notAfter };
}

/** The request fields an order object echoes (RFC 8555 §7.1.3, RFC 9773 §5, profiles draft). */
function echoedFields(r: OrderRequest | undefined, profiles: boolean): Record<string, unknown> {
  if (!r) return {};
  const out: Record<string, unknown> = {};
  if (r.notBefore !== undefined) out.notBefore = r.notBefore;
  if (r.notAfter !== undefined) out.notAfter = r.notAfter;
  if (r.replaces !== undefined) out.replaces = r.replaces;
  if (r.profile !== undefined && profiles) out.profile = r.profile;
  return out;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function scriptedError(reply: Reply): Outcome {
  const headers = typeof reply.headers === 'function' ? reply.headers() : { ...reply.headers };
  if (reply.problem === undefined) return { status: reply.status ?? 500, headers };
  const doc: ProblemDoc = typeof reply.problem === 'string' ? { type: ACME_ERROR + reply.problem } : { ...reply.problem };
  const short = doc.type.startsWith(ACME_ERROR) ? doc.type.slice(ACME_ERROR.length) : doc.type;
  const status = reply.status ?? doc.status ?? DEFAULT_PROBLEM_STATUS[short] ?? 400;
  return {
    status,
    headers: { 'content-type': 'application/problem+json', ...headers },
    body: { detail: `scripted ${short}`, status, ...doc },
  };
}

function applyReply(normal: Outcome, reply: Reply): Outcome {
  const out: Outcome = { ...normal, headers: { ...normal.headers } };
  if (reply.status !== undefined) out.status = reply.status;
  const headers = typeof reply.headers === 'function' ? reply.headers() : reply.headers;
  if (headers) for (const [k, v] of Object.entries(headers)) out.headers[k.toLowerCase()] = v;
  if (typeof reply.body === 'function') out.body = reply.body(normal.body);
  else if (reply.body !== undefined) out.body = { ...(normal.body as object), ...reply.body };
  return out;
}

function sendHuge(res: http.ServerResponse, status: number, headers: Record<string, string>, bytes: number): void {
  headers['content-length'] = String(bytes);
  res.writeHead(status, headers);
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  let sent = 0;
  let closed = false;
  res.on('close', () => (closed = true));
  const pump = (): void => {
    while (!closed && sent < bytes) {
      const piece = bytes - sent >= chunk.length ? chunk : chunk.subarray(0, bytes - sent);
      sent += piece.length;
      if (!res.write(piece)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!closed) res.end();
  };
  pump();
}
