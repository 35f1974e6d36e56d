/**
 * The on-disk certificate and account store: certbot-style `privkey.pem`/`cert.pem`/`chain.pem`/
 * `fullchain.pem` plus LEEC's `<domain>.key|.csr|.crt` names, with `meta.json` written last as the
 * commit marker. Every file is written atomically. It does not parse ACME responses or decide renewals.
 */
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, InvalidInputError, StoreError } from '../errors.js';
import { ensureDir, writeFileAtomic } from './atomic-write.js';

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
  if (d === '' || d.length > 253 || !d.split('.').every((l) => LABEL_RE.test(l))) throw bad();
  return prefix + d;
}

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

function isMeta(v: unknown): v is StoredCertificateMeta {
  const m = v as StoredCertificateMeta;
  return (
    typeof v === 'object' && v !== null && typeof m.domain === 'string' && Array.isArray(m.names) &&
    m.names.every((n) => typeof n === 'string') && typeof m.keyType === 'string' &&
    typeof m.notBefore === 'string' && typeof m.notAfter === 'string' && typeof m.issuedAt === 'string'
  );
}

/**
 * Certificates under `<root>/certificates/<domain>/` and ACME accounts under
 * `<root>/accounts/<host_port>/<sha256(directoryUrl)[0..12]>/`. Directories are 0700, private keys 0600.
 */
export class CertStore {
  /** The store's root directory. */
  readonly root: string;

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

  /** The file paths for `domain` (certbot names plus LEEC's `<domain>.key|.csr|.crt`). */
  paths(domain: string): CertificatePaths {
    const safe = safeDomain(domain);
    const dir = join(this.root, 'certificates', safe);
    return {
      privkey: join(dir, 'privkey.pem'),
      cert: join(dir, 'cert.pem'),
      chain: join(dir, 'chain.pem'),
      fullchain: join(dir, 'fullchain.pem'),
      meta: join(dir, 'meta.json'),
      leecKey: join(dir, `${safe}.key`),
      leecCsr: join(dir, `${safe}.csr`),
      leecCrt: join(dir, `${safe}.crt`),
    };
  }

  /**
   * Saves a certificate. First checks the key belongs to the leaf (StoreError `ERR_KEY_MISMATCH`,
   * nothing written), then writes every file atomically and `meta.json` last.
   */
  async saveCertificate(files: CertificateFiles): Promise<StoredCertificateMeta> {
    const p = this.paths(files.domain);
    const leaf = checkKeyMatches(files.certPem, files.keyPem);
    const dir = this.domainDir(files.domain);
    const meta: StoredCertificateMeta = {
      domain: files.domain.trim().toLowerCase(),
      names: [...files.names],
      keyType: files.keyType,
      notBefore: files.notBefore,
      notAfter: files.notAfter,
      issuedAt: new Date().toISOString(),
      serialNumber: leaf.serialNumber,
    };
    const write = async (path: string, data: string, mode: number): Promise<void> => {
      try {
        await writeFileAtomic(path, data, mode);
      } catch (err) {
        throw storeError(`cannot write ${path}`, path, err);
      }
    };
    try {
      await ensureDir(dir, 0o700);
    } catch (err) {
      throw storeError(`cannot create ${dir}`, dir, err);
    }
    await write(p.privkey, files.keyPem, 0o600);
    await write(p.leecKey, files.keyPem, 0o600);
    await write(p.cert, files.certPem, 0o644);
    await write(p.chain, files.chainPem, 0o644);
    await write(p.fullchain, files.fullchainPem, 0o644);
    await write(p.leecCrt, files.fullchainPem, 0o644);
    if (files.csrPem !== undefined) {
      await write(p.leecCsr, files.csrPem, 0o644);
    } else {
      await rm(p.leecCsr, { force: true }).catch((err: unknown) => {
        throw storeError(`cannot remove stale ${p.leecCsr}`, p.leecCsr, err);
      });
    }
    await write(p.meta, `${JSON.stringify(meta, null, 2)}\n`, 0o644);
    return meta;
  }

  /**
   * Loads a certificate: `undefined` when `meta.json` is absent; StoreError when meta exists but
   * is unreadable, a file it implies is missing, or the key no longer matches the leaf.
   */
  async loadCertificate(domain: string): Promise<(CertificateFiles & { meta: StoredCertificateMeta }) | undefined> {
    const p = this.paths(domain);
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
    if (meta.serialNumber !== undefined && meta.serialNumber !== leaf.serialNumber) {
      throw storeError(`${p.cert} does not match ${p.meta} (interrupted save?)`, p.cert, undefined);
    }
    const out: CertificateFiles & { meta: StoredCertificateMeta } = {
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
