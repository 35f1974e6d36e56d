/**
 * Order checkpoints: what a restarted agent, or a restarted process, needs to resume an order instead of
 * placing a new one (the order URL, then the certificate key sent at finalize). One JSON file per domain,
 * 0600 (it may hold a private key), written atomically; removed once the certificate is stored.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDir, writeFileAtomic } from './atomic-write.js';

export interface OrderCheckpoint {
  /** The ACME directory and account the order belongs to: a checkpoint from another CA is ignored. */
  directoryUrl: string;
  accountUrl: string | undefined;
  names: string[];
  keyType: string;
  orderUrl: string;
  /** PKCS#8 PEM of the certificate key, once finalize is about to be sent. */
  keyPem?: string | undefined;
}

export class CheckpointStore {
  readonly #dir: string;

  /** `root` is the store root; checkpoints live in `<root>/orders/`. */
  constructor(root: string) {
    this.#dir = join(root, 'orders');
  }

  /** `safeName` is the store's directory name of the domain (CertStore.domainDir's last part). */
  #path(safeName: string): string {
    return join(this.#dir, `${safeName}.json`);
  }

  async save(safeName: string, c: OrderCheckpoint): Promise<void> {
    await ensureDir(this.#dir, 0o700);
    await writeFileAtomic(this.#path(safeName), `${JSON.stringify(c)}\n`, 0o600);
  }

  /** The checkpoint, or undefined when there is none or it cannot be read as one. */
  async load(safeName: string): Promise<OrderCheckpoint | undefined> {
    try {
      const c = JSON.parse(await readFile(this.#path(safeName), 'utf8')) as OrderCheckpoint;
      return typeof c.orderUrl === 'string' && typeof c.directoryUrl === 'string' && Array.isArray(c.names) ? c : undefined;
    } catch {
      return undefined;
    }
  }

  async remove(safeName: string): Promise<void> {
    await rm(this.#path(safeName), { force: true });
  }

  /** Forgets every order checkpoint (LEEC's reset). */
  async clear(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
  }
}
