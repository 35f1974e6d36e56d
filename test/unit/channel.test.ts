/**
 * Calls across a real worker thread (comlink over a transferred MessagePort): answers arrive, errors keep
 * their class and fields, a call past its deadline and a call pending when the thread dies both reject
 * with ActorExitedError instead of hanging (comlink issue #601).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel, Worker } from 'node:worker_threads';
import { connectApi } from '../../src/runtime/channel.js';
import { ActorExitedError, ErrorCode, RateLimitedError } from '../../src/errors.js';

interface Api {
  echo(v: string): string;
  fail(): void;
  hang(): Promise<never>;
}

function startWorker(deadlineMs: number, untimed?: string[]) {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL('../support/channel-worker.js', import.meta.url), { workerData: { port: port2 }, transferList: [port2] });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  const api = connectApi<Api>(port1, { deadlineMs, exited, peer: 'test worker', ...(untimed ? { untimed } : {}) });
  return { worker, api, exited };
}

describe('cross-thread calls', () => {
  it('answers, and revives a thrown error with its class, code, step and data', async () => {
    const { worker, api } = startWorker(5000);
    try {
      assert.equal(await api.echo('x'), 'echo:x');
      await assert.rejects(api.fail(), (e: unknown) => {
        assert.ok(e instanceof RateLimitedError);
        assert.equal(e.code, ErrorCode.rateLimited);
        assert.equal(e.step, 'newOrder');
        assert.deepEqual(e.data, { retryAfterMs: 5000 });
        return true;
      });
    } finally {
      api.close();
      await worker.terminate();
    }
  });

  it('a call past its deadline rejects with ActorExitedError', async () => {
    const { worker, api } = startWorker(200);
    try {
      await assert.rejects(api.hang(), (e: unknown) => e instanceof ActorExitedError && e.code === ErrorCode.actorExited && e.data.deadlineMs === 200);
    } finally {
      api.close();
      await worker.terminate();
    }
  });

  it('an untimed call outlives the deadline, and still rejects when the thread dies', async () => {
    const { worker, api, exited } = startWorker(100, ['hang']);
    let settled = false;
    const pending = api.hang().finally(() => {
      settled = true;
    });
    const rejected = assert.rejects(pending, (e: unknown) => e instanceof ActorExitedError && e.data.deadlineMs === undefined);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(settled, false, 'still waiting at 4x the deadline');
    assert.equal(await api.echo('y'), 'echo:y', 'the other calls still work meanwhile');
    await worker.terminate();
    await exited;
    await rejected;
  });

  it('a call pending when the thread dies rejects with ActorExitedError, and so do later calls', async () => {
    const { worker, api, exited } = startWorker(60_000);
    const pending = api.hang();
    const rejected = assert.rejects(pending, (e: unknown) => e instanceof ActorExitedError && e.code === ErrorCode.actorExited);
    await worker.terminate();
    await exited;
    await rejected;
    await assert.rejects(api.echo('late'), (e: unknown) => e instanceof ActorExitedError);
    api.close();
  });
});
