/**
 * A worker for the channel tests: serves a tiny API over the transferred MessagePort with exposeApi:
 * `echo` answers, `fail` throws a typed error, `hang` never answers.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { exposeApi } from '../../src/runtime/channel.js';
import { ErrorCode, RateLimitedError } from '../../src/errors.js';

const { port } = workerData as { port: MessagePort };
exposeApi(
  {
    echo: (v: string) => `echo:${v}`,
    fail: () => {
      throw new RateLimitedError(ErrorCode.rateLimited, 'slow down', { step: 'newOrder', data: { retryAfterMs: 5000 } });
    },
    hang: () => new Promise<never>(() => undefined),
  },
  port,
);
