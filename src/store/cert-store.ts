/**
 * The on-disk certificate and account store. Each save of a certificate writes a complete new
 * version directory (`certificates/.versions/<domain>/v-*`: key, certificate, chain, fullchain,
 * `meta.json`, and LEEC's `<domain>.key|.csr|.crt`, the key and crt as hard links), every file fsynced
 * and then the directory, and then commits it by atomically renaming the `current` symlink onto it. The stable certbot-style paths in
 * `certificates/<domain>/` (`privkey.pem`, `fullchain.pem`...) are symlinks through `current`, so a
 * reader sees one whole version, never a new key beside an old certificate, even after a crash.
 * It does not parse ACME responses or decide renewals, and assumes one writer per domain.
 */
import { X509Certificate, createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { link, mkdir, readFile, readdir, readlink, rm, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { ErrorCode, InvalidInputError, StoreError } from '../errors.js';
import { TEMP_NAME_RE, ensureDir, replaceSymlink, syncDir, writeFileAtomic, writeNewFile } from './atomic-write.js';

/** Everything issued for one certificate (RFC 8555 §7.4.2 download, split). */
export interface CertificateFiles {
  /** The certificate's primary name; names its directory. */
  domain: string;
  /** Every name in the certificate (SANs). */
  names: string[];
  keyType: string;
  /** The leaf certificate, PEM. */
  certPem: string;
  /** The issuer certificates, PEM, leaf excluded. */
  chainPem: string;
  /** Leaf followed by issuers, PEM (what a TLS server sends). */
  fullchainPem: string;
  /** The certificate's private key, PKCS#8 or traditional PEM. */
  keyPem: string;
  /** The challenge type the names were validated with, recorded in meta.json. */
  challenge?: string;
  /** The CSR sent at finalize (RFC 8555 §7.4), PEM. */
  csrPem?: string;
  /** ISO 8601. */
  notBefore: string;
  /** ISO 8601. */
  notAfter: string;
}

/** The contents of `meta.json`. */
export interface StoredCertificateMeta {
  domain: string;
  names: string[];
  keyType: string;
  notBefore: string;
  notAfter: string;
  /** When the store saved it, ISO 8601. */
  issuedAt: string;
  /** The leaf's serial number, hex, as node:crypto prints it. */
  serialNumber?: string;
  /** The challenge type its names were validated with (RFC 8555 §8), so a renewal after a restart uses it again. */
  challenge?: string;
}

/** The paths of one domain's files. */
export interface CertificatePaths {
  privkey: string;
  cert: string;
  chain: string;
  fullchain: string;
  meta: string;
  leecKey: string;
  leecCsr: string;
  leecCrt: string;
}

const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const WILDCARD_DIR_PREFIX = '_wildcard_.';

/** The directory-safe form of a domain: lowercased LDH labels, `*.` replaced by `_wildcard_.`. */
/** The serials of a domain's revoked certificates (§7.6), next to its set. */
const REVOKED_FILE = 'revoked.json';

/** The new key of an account key rollover in progress, next to `account.key`. */
const PENDING_ACCOUNT_KEY = 'account.key.next';

function safeDomain(domain: string): string {
  const bad = (): InvalidInputError =>
    new InvalidInputError(ErrorCode.invalidDomain, `not a storable domain name: ${JSON.stringify(domain)}`, {
      step: 'store',
    });
  if (typeof domain !== 'string') throw bad();
  let d = domain.trim().toLowerCase();
  if (d.endsWith('.')) d = d.slice(0, -1);
  let prefix = '';
  if (d.startsWith('*.')) {
    prefix = WILDCARD_DIR_PREFIX;
    d = d.slice(2);
  }
  // IP identifiers (RFC 8738): IPv4 is already a valid directory name; IPv6 gets ':' replaced.
  if (isIP(d) === 6) return `ip6_${d.replace(/:/g, '-')}`;
  if (d === '' || d.length > 253 || !d.split('.').every((l) => LABEL_RE.test(l))) throw bad();
  const name = prefix + d;
  // File names are limited to 255 bytes, and `.<name>.<hex>.tmp` or `<name>.key` must still fit:
  // a long name keeps its start and gets a hash of the whole, so it stays unique.
  if (name.length <= MAX_DIR_NAME) return name;
  return `${name.slice(0, MAX_DIR_NAME - 17)}~${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
}

/** Room for the longest file derived from a domain's directory name within NAME_MAX (255). */
const MAX_DIR_NAME = 200;

function errnoCode(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

function storeError(message: string, path: string, cause: unknown): StoreError {
  const data: Record<string, unknown> = { path };
  const code = errnoCode(cause);
  if (code !== undefined) data.cause = code;
  return new StoreError(ErrorCode.store, message, { step: 'store', data, cause });
}

/** link(2) failures of a file system that has no hard links (FAT, some network and FUSE mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK']);

/** Under `certificates/`: the versions of every domain. A domain directory can never be named so. */
const VERSIONS_DIR = '.versions';
/** The commit point in a domain's versions directory: a symlink naming the live version. */
const CURRENT = 'current';
/** Version directory names: `v-<milliseconds since 1970, base 36>-<8 hex>`, new for every save. */
const VERSION_RE = /^v-[0-9a-z]+-[0-9a-f]{8}$/;
/** How often loadCertificate starts over when saves replace the version it was reading. */
const LOAD_ATTEMPTS = 5;

/** The file names of one set, relative to its directory. */
function fileNames(safe: string): CertificatePaths {
  return {
    privkey: 'privkey.pem',
    cert: 'cert.pem',
    chain: 'chain.pem',
    fullchain: 'fullchain.pem',
    meta: 'meta.json',
    leecKey: `${safe}.key`,
    leecCsr: `${safe}.csr`,
    leecCrt: `${safe}.crt`,
  };
}

function under(dir: string, names: CertificatePaths): CertificatePaths {
  return {
    privkey: join(dir, names.privkey),
    cert: join(dir, names.cert),
    chain: join(dir, names.chain),
    fullchain: join(dir, names.fullchain),
    meta: join(dir, names.meta),
    leecKey: join(dir, names.leecKey),
    leecCsr: join(dir, names.leecCsr),
    leecCrt: join(dir, names.leecCrt),
  };
}

/** The stable names every committed set has (the CSR is optional). */
const REQUIRED: ReadonlyArray<keyof CertificatePaths> = ['privkey', 'leecKey', 'cert', 'chain', 'fullchain', 'leecCrt', 'meta'];

/** What one version directory holds. */
interface VersionContent {
  keyPem: string;
  certPem: string;
  chainPem: string;
  fullchainPem: string;
  csrPem: string | undefined;
  meta: StoredCertificateMeta;
}

type LoadedCertificate = CertificateFiles & { meta: StoredCertificateMeta };

/** Reads a UTF-8 file; `undefined` on ENOENT, StoreError otherwise. */
async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw storeError(`cannot read ${path}`, path, err);
  }
}

async function readRequired(path: string): Promise<string> {
  const s = await readOptional(path);
  if (s === undefined) throw storeError(`store is incomplete: ${path} is missing`, path, undefined);
  return s;
}

/** Throws StoreError(keyMismatch) unless `keyPem` is the private key of `certPem`. Returns the parsed leaf. */
function checkKeyMatches(certPem: string, keyPem: string): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new StoreError(ErrorCode.store, 'certificate PEM cannot be parsed', { step: 'store', cause: err });
  }
  let matches = false;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    matches = false;
  }
  if (!matches) {
    throw new StoreError(ErrorCode.keyMismatch, 'private key does not match the certificate', { step: 'store' });
  }
  return cert;
}

/**
 * Throws StoreError(keyMismatch) unless the first certificate of `fullchainPem` is `leaf` (what a TLS
 * server pairs with the key), whose PEM is `certPem`. A full chain that starts with that very text (as
 * leec writes it) needs no second parse.
 */
function checkFullchainLeaf(fullchainPem: string, certPem: string, leaf: X509Certificate): void {
  if (certPem.includes('-----END CERTIFICATE-----') && fullchainPem.trimStart().startsWith(certPem.trim())) return;
  let first: X509Certificate | undefined;
  try {
    first = new X509Certificate(fullchainPem);
  } catch {
    first = undefined;
  }
  if (first === undefined || !first.raw.equals(leaf.raw)) {
    throw new StoreError(ErrorCode.keyMismatch, 'the full chain does not start with the certificate', { step: 'store' });
  }
}

function isMeta(v: unknown): v is StoredCertificateMeta {
  const m = v as StoredCertificateMeta;
  return (
    typeof v === 'object' && v !== null && typeof m.domain === 'string' && Array.isArray(m.names) &&
    m.names.every((n) => typeof n === 'string') && typeof m.keyType === 'string' &&
    typeof m.notBefore === 'string' && typeof m.notAfter === 'string' && typeof m.issuedAt === 'string'
  );
}

/**
 * Reads and checks one set (a version directory, or the top-level files of the pre-version
 * layout): `undefined` without `meta.json`; StoreError when a file is missing or unreadable, the
 * key does not match the leaf, the full chain does not start with it, or meta names another serial.
 */
async function readSet(p: CertificatePaths): Promise<LoadedCertificate | undefined> {
  const metaText = await readOptional(p.meta);
  if (metaText === undefined) return undefined;
  let meta: unknown;
  try {
    meta = JSON.parse(metaText);
  } catch (err) {
    throw storeError(`${p.meta} is not valid JSON`, p.meta, err);
  }
  if (!isMeta(meta)) throw storeError(`${p.meta} does not have the expected fields`, p.meta, undefined);
  const [keyPem, certPem, chainPem, fullchainPem, csrPem] = await Promise.all([
    readRequired(p.privkey),
    readRequired(p.cert),
    readRequired(p.chain),
    readRequired(p.fullchain),
    readOptional(p.leecCsr),
  ]);
  const leaf = checkKeyMatches(certPem, keyPem);
  checkFullchainLeaf(fullchainPem, certPem, leaf);
  if (meta.serialNumber !== undefined && meta.serialNumber !== leaf.serialNumber) {
    throw storeError(`${p.cert} does not match ${p.meta} (interrupted save?)`, p.cert, undefined);
  }
  const out: LoadedCertificate = {
    domain: meta.domain,
    names: meta.names,
    keyType: meta.keyType,
    certPem,
    chainPem,
    fullchainPem,
    keyPem,
    notBefore: meta.notBefore,
    notAfter: meta.notAfter,
    meta,
  };
  if (csrPem !== undefined) out.csrPem = csrPem;
  return out;
}

/** The version `current` names in `vdir`; `undefined` when nothing was committed yet. */
async function readCurrent(vdir: string): Promise<string | undefined> {
  const path = join(vdir, CURRENT);
  let target: string;
  try {
    target = await readlink(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw storeError(`cannot read ${path}`, path, err);
  }
  if (!VERSION_RE.test(target)) throw storeError(`${path} does not name a version directory`, path, undefined);
  return target;
}

/**
 * Writes `c` into a new version directory of `vdir` (0700; keys 0600 from the first byte, the rest 0644)
 * and returns its name. Nothing reads a version before `current` names it (the commit, switchCurrent),
 * so its files are written at once, each fsynced, and the directory is fsynced once after them; a crash
 * before the commit leaves a partial version that the next save prunes. On failure the directory is removed.
 */
async function writeVersion(vdir: string, names: CertificatePaths, c: VersionContent): Promise<string> {
  const version = `v-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const dir = join(vdir, version);
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (err) {
    throw storeError(`cannot create ${dir}`, dir, err);
  }
  const p = under(dir, names);
  const writes: Array<[string, string, number]> = [
    [p.privkey, c.keyPem, 0o600],
    [p.cert, c.certPem, 0o644],
    [p.chain, c.chainPem, 0o644],
    [p.fullchain, c.fullchainPem, 0o644],
  ];
  if (c.csrPem !== undefined) writes.push([p.leecCsr, c.csrPem, 0o644]);
  writes.push([p.meta, `${JSON.stringify(c.meta, null, 2)}\n`, 0o644]);
  const written = await Promise.allSettled(writes.map(([path, data, mode]) => writeNewFile(path, data, mode)));
  // The path each step writes, for the error: the failed file, a LEEC name's link, or the directory.
  let path = dir;
  try {
    const failed = written.findIndex((w) => w.status === 'rejected');
    if (failed !== -1) {
      path = writes[failed]![0];
      throw (written[failed] as PromiseRejectedResult).reason;
    }
    // LEEC's names are hard links to the same files (same inode, mode and bytes: nothing more to sync),
    // or copies where the file system has no hard links.
    for (const [name, target, data, mode] of [[p.leecKey, p.privkey, c.keyPem, 0o600], [p.leecCrt, p.fullchain, c.fullchainPem, 0o644]] as const) {
      path = name;
      await link(target, name).catch((err: unknown) => {
        if (!NO_HARD_LINKS.has(errnoCode(err) ?? '')) throw err;
        return writeNewFile(name, data, mode);
      });
    }
    path = dir;
    await syncDir(dir);
  } catch (err) {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw storeError(`cannot write ${path}`, path, err);
  }
  return version;
}

/** The commit: renames a new `current` symlink naming `version` over the old one, then fsyncs `vdir`. */
async function switchCurrent(vdir: string, version: string): Promise<void> {
  const path = join(vdir, CURRENT);
  try {
    await replaceSymlink(path, version);
  } catch (err) {
    throw storeError(`cannot switch ${path}`, path, err);
  }
}

/**
 * Makes each stable path of the domain directory a relative symlink through `current`, replacing
 * (atomically) flat-layout files or wrong links; links already right are left alone.
 */
async function linkStablePaths(domainDir: string, safe: string, names: CertificatePaths, withCsr: boolean): Promise<void> {
  let replaced = false;
  for (const key of withCsr ? [...REQUIRED, 'leecCsr' as const] : REQUIRED) {
    const path = join(domainDir, names[key]);
    const target = `../${VERSIONS_DIR}/${safe}/${CURRENT}/${names[key]}`;
    const existing = await readlink(path).catch(() => undefined);
    if (existing === target) continue;
    try {
      await replaceSymlink(path, target, { sync: false });
      replaced = true;
    } catch (err) {
      throw storeError(`cannot link ${path}`, path, err);
    }
  }
  // One fsync of the domain directory for every link replaced (usually all of them, at the first save).
  if (replaced) {
    try {
      await syncDir(domainDir);
    } catch (err) {
      throw storeError(`cannot sync ${domainDir}`, domainDir, err);
    }
  }
}

/** Removes versions other than `keep` and temp files left by interrupted saves. */
async function prune(vdir: string, domainDir: string, keep: ReadonlyArray<string | undefined>): Promise<void> {
  for (const name of await readdir(vdir)) {
    if ((VERSION_RE.test(name) && !keep.includes(name)) || TEMP_NAME_RE.test(name)) {
      await rm(join(vdir, name), { recursive: true, force: true });
    }
  }
  for (const name of await readdir(domainDir)) {
    if (TEMP_NAME_RE.test(name)) await rm(join(domainDir, name), { force: true });
  }
}

/**
 * Certificates under `<root>/certificates/<domain>/` and ACME accounts under
 * `<root>/accounts/<host_port>/<sha256(directoryUrl)[0..12]>/`. Directories are 0700, private keys 0600.
 *
 * Certificate layout, for `example.com`:
 * ```
 * certificates/example.com/privkey.pem -> ../.versions/example.com/current/privkey.pem   (and every other name)
 * certificates/.versions/example.com/current -> v-m5x1k2a0-1f2e3d4c                       (the commit)
 * certificates/.versions/example.com/v-m5x1k2a0-1f2e3d4c/{privkey.pem,cert.pem,...,meta.json}
 * ```
 * The version `current` named before the last save is kept; older ones and crash leftovers are
 * removed by the next save. Saves through one CertStore are serialized per domain; separate
 * processes must not save the same domain at the same time.
 */
export class CertStore {
  /** The store's root directory. */
  readonly root: string;
  /** Per-domain tail of the saves in flight through this instance. */
  readonly #saving = new Map<string, Promise<void>>();

  constructor(root: string) {
    if (typeof root !== 'string' || root === '') {
      throw new InvalidInputError(ErrorCode.invalidOption, 'store root must be a non-empty path');
    }
    this.root = root;
  }

  /** `<root>/certificates/<domain>`; throws InvalidInputError(invalidDomain) for a name that is not LDH (`*.` allowed). */
  domainDir(domain: string): string {
    return join(this.root, 'certificates', safeDomain(domain));
  }

  /**
   * The stable file paths for `domain` (certbot names plus LEEC's `<domain>.key|.csr|.crt`). They
   * are symlinks through the `current` version, so they always name one consistent set.
   */
  paths(domain: string): CertificatePaths {
    const safe = safeDomain(domain);
    return under(join(this.root, 'certificates', safe), fileNames(safe));
  }

  #versionsDir(safe: string): string {
    return join(this.root, 'certificates', VERSIONS_DIR, safe);
  }

  /**
   * Saves a certificate. First checks the key belongs to the leaf and the full chain starts with
   * it (StoreError `ERR_KEY_MISMATCH`, nothing written). Then writes a new version directory
   * (every file fsynced, then the directory), makes sure the stable paths are symlinks through
   * `current`, and commits by renaming `current` onto the new version. A failure before the commit
   * removes the new version and leaves the served set as it was.
   */
  async saveCertificate(files: CertificateFiles): Promise<StoredCertificateMeta> {
    const safe = safeDomain(files.domain);
    const leaf = checkKeyMatches(files.certPem, files.keyPem);
    checkFullchainLeaf(files.fullchainPem, files.certPem, leaf);
    const meta: StoredCertificateMeta = {
      domain: files.domain.trim().toLowerCase(),
      names: [...files.names],
      keyType: files.keyType,
      notBefore: files.notBefore,
      notAfter: files.notAfter,
      issuedAt: new Date().toISOString(),
      serialNumber: leaf.serialNumber,
      ...(files.challenge === undefined ? {} : { challenge: files.challenge }),
    };
    const content: VersionContent = {
      keyPem: files.keyPem,
      certPem: files.certPem,
      chainPem: files.chainPem,
      fullchainPem: files.fullchainPem,
      csrPem: files.csrPem,
      meta,
    };
    await this.#exclusive(safe, () => this.#commit(safe, content));
    return meta;
  }

  /** Runs `fn` after every earlier save of `safe` through this instance has settled. */
  async #exclusive(safe: string, fn: () => Promise<void>): Promise<void> {
    const run = (this.#saving.get(safe) ?? Promise.resolve()).then(fn);
    const tail = run.catch(() => undefined);
    this.#saving.set(safe, tail);
    try {
      await run;
    } finally {
      if (this.#saving.get(safe) === tail) this.#saving.delete(safe);
    }
  }

  async #commit(safe: string, content: VersionContent): Promise<void> {
    const domainDir = join(this.root, 'certificates', safe);
    const vdir = this.#versionsDir(safe);
    const names = fileNames(safe);
    for (const d of [domainDir, vdir]) {
      try {
        await ensureDir(d, 0o700);
      } catch (err) {
        throw storeError(`cannot create ${d}`, d, err);
      }
    }
    let previous = await readCurrent(vdir);
    if (previous === undefined) {
      // First save, or a store of the older flat layout: a good flat set becomes a version first,
      // so turning its files into symlinks below never hides it, even if this save then fails.
      const flat = await readSet(under(domainDir, names)).catch(() => undefined);
      if (flat !== undefined) {
        const imported = await writeVersion(vdir, names, { ...flat, csrPem: flat.csrPem });
        await switchCurrent(vdir, imported);
        previous = imported;
      }
    }
    const version = await writeVersion(vdir, names, content);
    try {
      await linkStablePaths(domainDir, safe, names, content.csrPem !== undefined);
      await switchCurrent(vdir, version);
    } catch (err) {
      // Keep the new version only if the switch went through (e.g. just the directory fsync failed).
      if ((await readCurrent(vdir).catch(() => undefined)) !== version) {
        await rm(join(vdir, version), { recursive: true, force: true }).catch(() => undefined);
      }
      throw err;
    }
    if (content.csrPem === undefined) await rm(join(domainDir, names.leecCsr), { force: true }).catch(() => undefined);
    await prune(vdir, domainDir, [version, previous]).catch(() => undefined);
  }

  /**
   * Loads a certificate: `undefined` when none was saved; StoreError when the store is
   * unreadable, a file is missing (a stable path included), or the key does not match the leaf.
   * The set is read from the one version `current` names, so it is never a mix of two saves.
   */
  async loadCertificate(domain: string): Promise<(CertificateFiles & { meta: StoredCertificateMeta }) | undefined> {
    const safe = safeDomain(domain);
    const p = this.paths(domain);
    const vdir = this.#versionsDir(safe);
    for (let attempt = 1; ; attempt++) {
      const version = await readCurrent(vdir);
      // No commit yet: the older flat layout, or nothing (the stable symlinks dangle, no meta.json).
      if (version === undefined) return readSet(p);
      try {
        const set = await readSet(under(join(vdir, version), fileNames(safe)));
        if (set === undefined) throw storeError(`store is incomplete: ${version} has no meta.json`, join(vdir, version), undefined);
        for (const key of set.csrPem === undefined ? REQUIRED : [...REQUIRED, 'leecCsr' as const]) {
          try {
            await stat(p[key]);
          } catch (err) {
            throw storeError(`store is incomplete: ${p[key]} is missing`, p[key], err);
          }
        }
        return set;
      } catch (err) {
        // Saves replaced (and pruned) the version under us: read the new one.
        if (attempt >= LOAD_ATTEMPTS || (await readCurrent(vdir)) === version) throw err;
      }
    }
  }

  /**
   * The domains with a certificate in the store, as their `meta.json` names them (for rebuilding a
   * renewal schedule after a restart). Directories without a readable set are skipped.
   */
  async listDomains(): Promise<string[]> {
    const dir = join(this.root, 'certificates');
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw storeError(`cannot list ${dir}`, dir, err);
    });
    const out: string[] = [];
    for (const e of entries) {
      if (e.name === VERSIONS_DIR || e.name.startsWith('.') || !e.isDirectory()) continue;
      const meta = await readFile(join(dir, e.name, 'meta.json'), 'utf8').then((t) => JSON.parse(t) as Partial<StoredCertificateMeta>).catch(() => undefined);
      if (typeof meta?.domain === 'string') out.push(meta.domain);
    }
    return out.sort();
  }

  /**
   * Records that a stored certificate, by its serial (hex, as X509Certificate.serialNumber), was revoked (RFC 8555 §7.6), in `<domain>/revoked.json` beside its
   * set, so it is never reused as fresh. Returns the domain that stores it, or undefined when no
   * domain's current certificate has this serial. The set itself stays served until a new one replaces it.
   */
  async recordRevocation(serial: string): Promise<string | undefined> {
    for (const domain of await this.listDomains()) {
      const stored = await this.loadCertificate(domain).catch(() => undefined);
      if (!stored || new X509Certificate(stored.certPem).serialNumber !== serial) continue;
      const path = join(this.domainDir(domain), REVOKED_FILE);
      const serials = new Set(await this.#revokedSerials(domain));
      serials.add(serial);
      try {
        await writeFileAtomic(path, `${JSON.stringify({ serials: [...serials] }, null, 2)}\n`, 0o644);
      } catch (err) {
        throw storeError(`cannot record the revocation in ${path}`, path, err);
      }
      return domain;
    }
    return undefined;
  }

  /** Whether the certificate with this serial (hex, as X509Certificate.serialNumber) of `domain` was revoked. */
  async isRevoked(domain: string, serial: string): Promise<boolean> {
    return (await this.#revokedSerials(domain)).includes(serial);
  }

  async #revokedSerials(domain: string): Promise<string[]> {
    const text = await readOptional(join(this.domainDir(domain), REVOKED_FILE));
    if (text === undefined) return [];
    try {
      const serials = (JSON.parse(text) as { serials?: unknown }).serials;
      return Array.isArray(serials) ? serials.filter((s): s is string => typeof s === 'string') : [];
    } catch (err) {
      throw storeError(`${REVOKED_FILE} of ${domain} is not valid JSON`, join(this.domainDir(domain), REVOKED_FILE), err);
    }
  }

  /**
   * LEEC's reset: forgets every stored certificate (and its versions) so the next request obtains a
   * fresh one. The account is kept. Not undoable.
   */
  async forgetCertificates(): Promise<void> {
    await rm(join(this.root, 'certificates'), { recursive: true, force: true });
  }

  /** `<root>/accounts/<host_port>/<first 12 hex of sha256(directoryUrl)>`. */
  accountDir(directoryUrl: string): string {
    let u: URL;
    try {
      u = new URL(directoryUrl);
    } catch (err) {
      throw new InvalidInputError(ErrorCode.invalidDirectoryUrl, `invalid ACME directory URL: ${directoryUrl}`, {
        cause: err,
      });
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') {
      throw new InvalidInputError(ErrorCode.invalidDirectoryUrl, `ACME directory URL must be http(s): ${directoryUrl}`);
    }
    const host = u.hostname.toLowerCase().replace(/[^a-z0-9.-]/g, '_');
    const port = u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : '80';
    const hash = createHash('sha256').update(directoryUrl).digest('hex').slice(0, 12);
    return join(this.root, 'accounts', `${host}_${port}`, hash);
  }

  /** Saves the ACME account key (0600) and, in `account.json`, its URL (RFC 8555 §7.3). */
  async saveAccount(directoryUrl: string, account: { keyPem: string; url?: string }): Promise<void> {
    const dir = this.accountDir(directoryUrl);
    const keyPath = join(dir, 'account.key');
    const jsonPath = join(dir, 'account.json');
    const json: { directoryUrl: string; url?: string } = { directoryUrl };
    if (account.url !== undefined) json.url = account.url;
    try {
      await ensureDir(dir, 0o700);
      await writeFileAtomic(keyPath, account.keyPem, 0o600);
      await writeFileAtomic(jsonPath, `${JSON.stringify(json, null, 2)}\n`, 0o644);
    } catch (err) {
      throw storeError(`cannot save account in ${dir}`, dir, err);
    }
  }

  /**
   * §7.3.5 key rollover, crash-safe: the new key is written (0600) to `account.key.next` before keyChange
   * is sent, so a process killed after the CA accepted it and before `saveAccount` still has it.
   * `settleInterruptedRollover` (src/account-rollover-recovery.ts) decides, by asking the CA, which key wins.
   */
  async savePendingAccountKey(directoryUrl: string, keyPem: string): Promise<void> {
    const dir = this.accountDir(directoryUrl);
    try {
      await ensureDir(dir, 0o700);
      await writeFileAtomic(join(dir, PENDING_ACCOUNT_KEY), keyPem, 0o600);
    } catch (err) {
      throw storeError(`cannot save the new account key in ${dir}`, dir, err);
    }
  }

  /** The key of a rollover that did not finish, if any. */
  loadPendingAccountKey(directoryUrl: string): Promise<string | undefined> {
    return readOptional(join(this.accountDir(directoryUrl), PENDING_ACCOUNT_KEY));
  }

  async clearPendingAccountKey(directoryUrl: string): Promise<void> {
    await rm(join(this.accountDir(directoryUrl), PENDING_ACCOUNT_KEY), { force: true });
  }

  /** Loads the account for `directoryUrl`; `undefined` when no key is stored. */
  async loadAccount(directoryUrl: string): Promise<{ keyPem: string; url?: string } | undefined> {
    const dir = this.accountDir(directoryUrl);
    const keyPem = await readOptional(join(dir, 'account.key'));
    if (keyPem === undefined) return undefined;
    const jsonPath = join(dir, 'account.json');
    const text = await readOptional(jsonPath);
    const out: { keyPem: string; url?: string } = { keyPem };
    if (text !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw storeError(`${jsonPath} is not valid JSON`, jsonPath, err);
      }
      const url = (parsed as { url?: unknown } | null)?.url;
      if (typeof url === 'string') out.url = url;
    }
    return out;
  }
}
