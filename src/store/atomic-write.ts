/**
 * Crash-safe file writes for the certificate store: temp file in the same directory, opened
 * with its final mode, fsync, rename, fsync of the directory; and the same for symbolic links
 * (the store's commit switch). It knows nothing of certificates and does no locking between
 * concurrent writers of the same path (last rename wins).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Fsyncs a directory so a rename in it survives a crash. Platforms that cannot open or sync a
 * directory (Windows, some network file systems) are tolerated.
 */
export async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await fh.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'ENOTSUP') throw err;
  } finally {
    await fh.close();
  }
}

/** Matches the temp names this module creates (`.<base>.<12 hex>.tmp`), for sweeping crash leftovers. */
export const TEMP_NAME_RE = /^\..+\.[0-9a-f]{12}\.tmp$/;

function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Writes `data` to `path` atomically: readers see the old content or the new, never a mix.
 * The temp file `.<base>.<random>.tmp` is created with `mode` from its first byte
 * (`open(tmp, 'wx', mode)`; umask can only remove bits), so a private key is never readable
 * by others even briefly. The mode is then set exactly, so a restrictive umask does not narrow it.
 * On failure the temp file is removed and the old `path` is untouched.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const tmp = tempName(path);
  await writeNewFile(tmp, data, mode); // removes the temp file if it fails
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await syncDir(dirname(path));
}

/**
 * Writes a new file `path` durably but not atomically: created exclusively with `mode` from its first byte
 * (`open(path, 'wx', mode)`), the mode then set exactly, written and fsynced; writeFileAtomic writes its
 * temp file so.
 * For a directory that nothing reads until a later commit point (a new version of the certificate store,
 * published by one symlink rename): the caller fsyncs that directory once after all its files, instead of
 * a rename and a directory fsync per file. An existing `path` is an error (EEXIST); on failure the
 * partial file is removed.
 */
export async function writeNewFile(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const fh = await open(path, 'wx', mode);
  let ok = false;
  try {
    try {
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
      ok = true;
    } finally {
      await fh.close();
    }
  } finally {
    if (!ok) await rm(path, { force: true }).catch(() => undefined);
  }
}

/**
 * Points the symbolic link `path` at `target` atomically: a new link is made under a temp name in
 * the same directory and renamed over `path` (rename(2) replaces a link or file in one step), then
 * the directory is fsynced. Readers resolving `path` see the old target or the new, never nothing.
 */
export async function replaceSymlink(path: string, target: string, opts: { sync?: boolean } = {}): Promise<void> {
  const tmp = tempName(path);
  await symlink(target, tmp);
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  // `sync: false`: the caller replaces several links of one directory and fsyncs it once after them.
  if (opts.sync !== false) await syncDir(dirname(path));
}

/** `mkdir -p` with `mode` (default 0700) for the directories it creates; existing ones are left as they are. */
export async function ensureDir(path: string, mode = 0o700): Promise<void> {
  await mkdir(path, { recursive: true, mode });
}
