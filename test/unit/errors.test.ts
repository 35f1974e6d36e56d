/**
 * Errors keep their class, code, ACME problem and step across a real MessageChannel (structured clone
 * alone drops them), and problem documents map to the right typed errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { AcmeProblemError, BadNonceError, ChallengeFailedError, ErrorCode, LeecError, RateLimitedError, reviveError, serializeError, type SerializedError } from '../../src/errors.js';
import { challengeFailedError, parseProblem, problemError } from '../../src/acme/problem.js';
import { parseRetryAfter } from '../../src/acme/retry-after.js';

function roundTrip(value: unknown): Promise<unknown> {
  const { port1, port2 } = new MessageChannel();
  return new Promise((resolve) => {
    port2.once('message', (m) => {
      port1.close();
      port2.close();
      resolve(m);
    });
    port1.postMessage(value);
  });
}

describe('error codec across threads', () => {
  it('structured clone alone loses the class and fields (the reason for the codec)', async () => {
    const e = new RateLimitedError(ErrorCode.rateLimited, 'slow down', { step: 'newOrder' });
    const back = (await roundTrip(e)) as Error & { code?: string };
    assert.equal(back instanceof RateLimitedError, false);
    assert.equal(back.code, undefined);
  });

  it('serialize → MessageChannel → revive keeps class, code, step, problem and data', async () => {
    const problem = { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many', status: 429 };
    const e = new RateLimitedError(ErrorCode.rateLimited, 'HTTP 429 rateLimited at newOrder', { step: 'newOrder', problem, data: { retryAfterMs: 120000 } });
    const back = reviveError((await roundTrip(serializeError(e))) as SerializedError);
    assert.ok(back instanceof RateLimitedError);
    assert.ok(back instanceof AcmeProblemError);
    assert.equal(back.name, 'RateLimitedError');
    assert.equal(back.code, 'ERR_ACME_RATE_LIMITED');
    assert.equal(back.step, 'newOrder');
    assert.deepEqual(back.problem, problem);
    assert.deepEqual(back.data, { retryAfterMs: 120000 });
    assert.equal(back.message, e.message);
  });

  it('a plain Error becomes ERR_INTERNAL with its message and system code', async () => {
    const sys = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const back = reviveError((await roundTrip(serializeError(sys))) as SerializedError);
    assert.ok(back instanceof LeecError);
    assert.equal(back.code, ErrorCode.internal);
    assert.equal(back.message, 'connect ECONNREFUSED');
    assert.deepEqual(back.data, { cause: 'ECONNREFUSED' });
  });
});

describe('problem documents (RFC 8555 §6.7)', () => {
  it('maps badNonce, rateLimited and others to their classes, with step and Retry-After', () => {
    const bad = problemError({ type: 'urn:ietf:params:acme:error:badNonce', status: 400 }, 'finalize');
    assert.ok(bad instanceof BadNonceError);
    assert.equal(bad.code, 'ERR_ACME_BAD_NONCE');
    const rl = problemError({ type: 'urn:ietf:params:acme:error:rateLimited', status: 429, detail: 'x' }, 'newOrder', 3000);
    assert.ok(rl instanceof RateLimitedError);
    assert.equal(rl.step, 'newOrder');
    assert.deepEqual(rl.data, { retryAfterMs: 3000 });
    assert.equal(rl.message, 'HTTP 429 rateLimited at newOrder - x');
    const other = problemError({ type: 'urn:ietf:params:acme:error:rejectedIdentifier', status: 400 }, 'newOrder');
    assert.equal(other.code, ErrorCode.acmeProblem);
  });

  it('parses a problem body and refuses what is not one', () => {
    assert.deepEqual(parseProblem(Buffer.from('{"type":"urn:ietf:params:acme:error:malformed","detail":"d"}'), 400), {
      type: 'urn:ietf:params:acme:error:malformed',
      status: 400,
      detail: 'd',
    });
    assert.equal(parseProblem(Buffer.from('<html>'), 502), undefined);
    assert.equal(parseProblem(Buffer.from('{"detail":"no type"}'), 400), undefined);
  });

  it('a failed challenge names the identifier and the subproblems', () => {
    const e = challengeFailedError('a.example.test', 'http-01', {
      type: 'urn:ietf:params:acme:error:connection',
      detail: 'refused',
      status: 400,
    });
    assert.ok(e instanceof ChallengeFailedError);
    assert.equal(e.code, 'ERR_ACME_CHALLENGE_FAILED');
    assert.equal(e.data.identifier, 'a.example.test');
    assert.match(e.message, /a\.example\.test.*connection.*refused/);
  });
});

describe('Retry-After (RFC 9110 §10.2.3)', () => {
  it('reads delay-seconds and HTTP-dates', () => {
    assert.equal(parseRetryAfter('120'), 120_000);
    const now = Date.parse('2026-12-03T12:00:00Z');
    assert.equal(parseRetryAfter('Thu, 03 Dec 2026 12:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Thu, 03 Dec 2026 11:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
});
