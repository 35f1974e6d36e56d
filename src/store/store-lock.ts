/**
 * One supervisor per store: a lock file `<root>/leec.lock` holding the owner's PID, created exclusively.
 * Two supervisors writing one store would prune each other's certificate versions. A lock whose PID is
 * no longer alive (a crashed process) is taken over. Not a distributed lock: one machine only.
 */
import { open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, StoreError } from '../errors.js';
import { ensureDir } from './atomic-write.js';

export interface StoreLock {
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** How long an empty lock file counts as being written by a supervisor that is starting. */
const EMPTY_LOCK_GRACE_MS = 5_000;

/** Milliseconds since the lock file was last modified; Infinity when it is gone. */
async function lockAgeMs(path: string): Promise<number> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

export async function lockStore(root: string): Promise<StoreLock> {
  await ensureDir(root, 0o700);
  const path = join(root, 'leec.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          await rm(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StoreError(ErrorCode.store, `cannot create the store lock ${path}: ${(e as Error).message}`, { step: 'store', cause: e, data: { path } });
      }
      const text = (await readFile(path, 'utf8').catch(() => '')).trim();
      // Created but not yet written (another supervisor is taking it this very moment): taken, unless it
      // stayed empty long enough to be a crash between the two steps.
      if (text === '' && (await lockAgeMs(path)) < EMPTY_LOCK_GRACE_MS) {
        throw new StoreError(ErrorCode.storeLocked, `the store ${root} is being locked by another supervisor; one supervisor per store`, { step: 'store', data: { path } });
      }
      const owner = Number(text);
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new StoreError(ErrorCode.storeLocked, `the store ${root} is in use by process ${owner}; one supervisor per store`, {
          step: 'store',
          data: { path, pid: owner },
        });
      }
      if (owner === process.pid) {
        throw new StoreError(ErrorCode.storeLocked, `the store ${root} is already used by another supervisor in this process`, { step: 'store', data: { path } });
      }
      await rm(path, { force: true }); // stale: its process is gone
    }
  }
  throw new StoreError(ErrorCode.storeLocked, `the store ${root} lock could not be taken`, { step: 'store', data: { path } });
}
