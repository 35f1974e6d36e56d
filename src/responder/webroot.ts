/**
 * A ChallengePublisher that writes http-01 key authorizations into an existing web server's
 * document root (`<root>/.well-known/acme-challenge/<token>`, RFC 8555 §8.3). It serves nothing
 * itself and ignores the host: one webroot is assumed to answer for every name it is used with.
 */
import { rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ErrorCode, InvalidInputError } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../store/atomic-write.js';
import type { ChallengePublisher, PublishedChallenge } from './challenge-publisher.js';
import { MAX_TOKEN_LENGTH, isValidToken } from './challenge-store.js';

/** Writes key authorizations as files under a web server's document root. */
export class WebrootPublisher implements ChallengePublisher {
  /** The absolute `<root>/.well-known/acme-challenge` directory. */
  readonly challengeDir: string;

  /** `root` is the document root the web server serves for the validated names. */
  constructor(root: string) {
    if (typeof root !== 'string' || root === '') {
      throw new InvalidInputError(ErrorCode.invalidOption, 'webroot must be a non-empty path');
    }
    this.challengeDir = join(resolve(root), '.well-known', 'acme-challenge');
  }

  /** The file for `token`; throws InvalidInputError unless it is base64url and stays inside the challenge directory. */
  pathFor(token: string): string {
    if (!isValidToken(token)) {
      throw new InvalidInputError(ErrorCode.invalidOption, `http-01 token must be non-empty base64url of at most ${MAX_TOKEN_LENGTH} characters (RFC 8555 §8.3)`, {
        step: 'challenge',
      });
    }
    const file = resolve(this.challengeDir, token);
    if (dirname(file) !== this.challengeDir) {
      throw new InvalidInputError(ErrorCode.invalidOption, 'http-01 token escapes the challenge directory', {
        step: 'challenge',
      });
    }
    return file;
  }

  /** Writes the key authorization (mode 0644, atomically; directories created 0755 so the web server can read them). */
  async present(c: PublishedChallenge): Promise<void> {
    const file = this.pathFor(c.token);
    await ensureDir(this.challengeDir, 0o755);
    await writeFileAtomic(file, c.keyAuthorization, 0o644);
  }

  /** Removes the file; a missing file is not an error. */
  async cleanup(c: { host: string; token: string }): Promise<void> {
    const file = this.pathFor(c.token);
    await rm(file, { force: true });
  }
}
