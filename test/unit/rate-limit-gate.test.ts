/**
 * The supervisor-wide rate-limit gate, driven by a FakeClock (no real sleeping): concurrency, each CA limit
 * blocking and releasing at the exact time, no head-of-line blocking, FIFO per blocker, abort, stop, the
 * start-time estimates, random heavy-load streams where no window exceeds a limit, and 10,000 queued jobs.
 * Also the registered domain (Public Suffix List) and the Let's Encrypt presets.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import {
  RateLimitGate,
  type GateJob,
  type GateOutcome,
  type GateQueuedEvent,
  type GateTicket,
} from '../../src/lifecycle/rate-limit-gate.js';
import {
  LETS_ENCRYPT_PRODUCTION_LIMITS,
  LETS_ENCRYPT_STAGING_LIMITS,
  UNLIMITED_LIMITS,
  validateRateLimits,
  type RateLimits,
} from '../../src/lifecycle/rate-limit-presets.js';
import { registeredDomain } from '../../src/lifecycle/registered-domain.js';
import { AbortedError, ErrorCode, InvalidInputError } from '../../src/errors.js';
import { FakeClock } from '../support/fake-clock.js';
import { caught } from '../support/caught.js';
import { flush, maxInAnyWindow, seeded } from '../support/simulation.js';




/**
 * A gate with bookkeeping: start times, tickets, the onQueued events; `auto` releases a started job at once
 * with the outcome it returns (or leaves it running when it returns undefined).
 */
class Harness {
  readonly clock = new FakeClock(0);
  readonly gate: RateLimitGate;
  readonly events = new Map<string, GateQueuedEvent>();
  readonly starts = new Map<string, number>();
  readonly order: string[] = [];
  readonly tickets = new Map<string, GateTicket>();
  readonly errors = new Map<string, unknown>();
  readonly #auto: ((id: string) => GateOutcome | undefined) | undefined;

  constructor(limits: RateLimits, maxConcurrent?: number, auto?: (id: string) => GateOutcome | undefined) {
    this.#auto = auto;
    this.gate = new RateLimitGate({
      clock: this.clock,
      limits,
      ...(maxConcurrent === undefined ? {} : { maxConcurrent }),
      onQueued: (e) => this.events.set(e.id, e),
    });
  }

  submit(job: GateJob, signal?: AbortSignal): Promise<GateTicket | undefined> {
    return this.gate.acquire(job, signal).then(
      (ticket) => {
        this.starts.set(job.id, ticket.startedAt);
        this.order.push(job.id);
        this.tickets.set(job.id, ticket);
        const outcome = this.#auto?.(job.id);
        if (outcome) ticket.release(outcome);
        return ticket;
      },
      (error: unknown) => {
        this.errors.set(job.id, error);
        return undefined;
      },
    );
  }

  release(id: string, outcome: GateOutcome = { ok: true }): void {
    const ticket = this.tickets.get(id);
    assert.ok(ticket, `${id} has no ticket`);
    ticket.release(outcome);
  }

  /** Moves the clock to `t`, firing the gate's timer on the way, and lets promise handlers run. */
  async at(t: number): Promise<void> {
    await flush();
    for (;;) {
      const next = this.clock.pending()[0];
      if (next === undefined || this.clock.now() + next > t) break;
      this.clock.advance(next);
      await flush();
    }
    this.clock.advance(t - this.clock.now());
    await flush();
  }

  /** Runs timers until none is left. */
  async settle(maxSteps = 100_000): Promise<void> {
    await flush();
    for (let i = 0; i < maxSteps; i++) {
      const next = this.clock.pending()[0];
      if (next === undefined) return;
      this.clock.advance(next);
      await flush();
    }
    assert.fail('the gate never settled');
  }
}

const ok = (): GateOutcome => ({ ok: true });

describe('RateLimitGate: concurrency', () => {
  it('runs at most maxConcurrent jobs, then starts queued ones in order (higher priority first) as slots free', async () => {
    const h = new Harness(UNLIMITED_LIMITS, 2);
    for (const id of ['a', 'b', 'c', 'd']) void h.submit({ id, account: 'acct', names: [`${id}.example.com`] });
    await flush();
    assert.deepEqual(h.order, ['a', 'b']);
    assert.equal(h.gate.running, 2);
    assert.equal(h.gate.queued, 2);
    assert.deepEqual(h.events.get('c'), { id: 'c', startsAt: undefined, blockedBy: 'concurrency', key: undefined });
    void h.submit({ id: 'urgent', account: 'acct', names: ['u.example.com'], priority: 5 });
    await h.at(10);
    h.release('a');
    await flush();
    assert.deepEqual(h.order, ['a', 'b', 'urgent']);
    assert.equal(h.starts.get('urgent'), 10);
    h.release('b');
    h.release('urgent');
    await flush();
    assert.deepEqual(h.order, ['a', 'b', 'urgent', 'c', 'd']);
    assert.equal(h.gate.running, 2);
    assert.equal(h.gate.queued, 0);
    assert.deepEqual(h.clock.pending(), []); // concurrency alone never needs a timer
  });

  it('estimate() says concurrency when every slot is busy and no limit holds the job', async () => {
    const h = new Harness(UNLIMITED_LIMITS, 1);
    const job: GateJob = { id: 'x', account: 'acct', names: ['x.example.com'] };
    assert.deepEqual(h.gate.estimate(job), { startsAt: 0, blockedBy: undefined, key: undefined });
    void h.submit({ id: 'a', account: 'acct', names: ['a.example.com'] });
    await flush();
    assert.deepEqual(h.gate.estimate(job), { startsAt: undefined, blockedBy: 'concurrency', key: undefined });
  });
});

describe('RateLimitGate: each limit blocks and releases at the exact time', () => {
  it('new orders per account: the third of 2 per 1000 ms starts at 1000, not 999; other accounts are not held', async () => {
    const h = new Harness({ newOrdersPerAccount: { count: 2, windowMs: 1000 } }, undefined, ok);
    for (const id of ['j1', 'j2', 'j3']) void h.submit({ id, account: 'A', names: [`${id}.example.com`] });
    void h.submit({ id: 'other', account: 'B', names: ['other.example.com'] });
    await flush();
    assert.deepEqual(h.order, ['j1', 'j2', 'other']);
    assert.deepEqual(h.events.get('j3'), { id: 'j3', startsAt: 1000, blockedBy: 'newOrders', key: 'A' });
    await h.at(999);
    assert.equal(h.starts.has('j3'), false);
    await h.at(1000);
    assert.equal(h.starts.get('j3'), 1000);
  });

  it('certificates per registered domain (PSL): same registered domain waits, a two-domain job uses both', async () => {
    const h = new Harness({ certificatesPerRegisteredDomain: { count: 1, windowMs: 1000 } }, undefined, (id) => (id === 'f' ? undefined : { ok: true }));
    void h.submit({ id: 'a', account: 'A', names: ['www.example.co.uk'] });
    void h.submit({ id: 'b', account: 'A', names: ['shop.example.co.uk'] });
    void h.submit({ id: 'c', account: 'A', names: ['a.example.com', 'b.example.org'] });
    void h.submit({ id: 'd', account: 'B', names: ['x.example.org'] }); // any account counts
    void h.submit({ id: 'e', account: 'A', names: ['y.example.net'] });
    void h.submit({ id: 'f', account: 'A', names: ['p.example.info'] }); // runs until released by hand
    await flush();
    assert.deepEqual(h.order, ['a', 'c', 'e', 'f']);
    assert.deepEqual(h.events.get('b'), { id: 'b', startsAt: 1000, blockedBy: 'registeredDomain', key: 'example.co.uk' });
    assert.deepEqual(h.events.get('d'), { id: 'd', startsAt: 1000, blockedBy: 'registeredDomain', key: 'example.org' });
    void h.submit({ id: 'g', account: 'A', names: ['q.example.info'] });
    await flush();
    // f still runs: the estimate is a lower bound (as if f ended now).
    assert.deepEqual(h.events.get('g'), { id: 'g', startsAt: 1000, blockedBy: 'registeredDomain', key: 'example.info' });
    await h.at(300);
    h.release('f'); // f's certificate counts from its release: g may go at 1300
    await h.at(999);
    assert.equal(h.starts.has('b'), false);
    await h.at(1000);
    assert.equal(h.starts.get('b'), 1000);
    assert.equal(h.starts.get('d'), 1000);
    assert.equal(h.starts.has('g'), false);
    await h.at(1299);
    assert.equal(h.starts.has('g'), false);
    await h.at(1300);
    assert.equal(h.starts.get('g'), 1300);
  });

  it('duplicate certificates: per exact name set, case, order and a trailing dot ignored; a wildcard is its own name', async () => {
    const h = new Harness({ duplicateCertificates: { count: 1, windowMs: 5000 } }, undefined, ok);
    void h.submit({ id: 'a', account: 'A', names: ['B.example.com', 'a.example.com'] });
    void h.submit({ id: 'b', account: 'B', names: ['a.example.com', 'b.example.com.'] });
    void h.submit({ id: 'c', account: 'A', names: ['a.example.com'] });
    void h.submit({ id: 'd', account: 'A', names: ['*.example.com', 'example.com'] });
    void h.submit({ id: 'e', account: 'A', names: ['example.com'] });
    await flush();
    assert.deepEqual(h.order, ['a', 'c', 'd', 'e']);
    assert.deepEqual(h.events.get('b'), { id: 'b', startsAt: 5000, blockedBy: 'duplicate', key: 'a.example.com,b.example.com' });
    await h.at(4999);
    assert.equal(h.starts.has('b'), false);
    await h.at(5000);
    assert.equal(h.starts.get('b'), 5000);
  });

  it('a failed job keeps its certificate tokens unless it says no certificate was issued', async () => {
    const h = new Harness({ duplicateCertificates: { count: 1, windowMs: 5000 } });
    void h.submit({ id: 'a', account: 'A', names: ['x.example.com'] });
    void h.submit({ id: 'b', account: 'A', names: ['x.example.com'] });
    await flush();
    h.release('a', { ok: false, certificateIssued: false }); // failed before finalize: nothing issued
    await flush();
    assert.equal(h.starts.get('b'), 0);
    void h.submit({ id: 'c', account: 'A', names: ['x.example.com'] });
    h.release('b', { ok: false }); // failed, maybe after finalize: counted
    await flush();
    assert.equal(h.starts.has('c'), false);
    await h.at(5000);
    assert.equal(h.starts.get('c'), 5000);
  });

  it('failed validations per account and host: a host over its limit makes later jobs naming it wait', async () => {
    const h = new Harness({ failedValidationsPerHost: { count: 2, windowMs: 1000 } }, undefined, (id) => (id.startsWith('fail') ? undefined : { ok: true }));
    void h.submit({ id: 'fail1', account: 'A', names: ['h.example.com'] });
    await flush();
    h.release('fail1', { ok: false, failedHosts: ['h.example.com'] }); // failure at 0
    await h.at(100);
    void h.submit({ id: 'fail2', account: 'A', names: ['h.example.com', 'other.example.com'] });
    await flush();
    h.release('fail2', { ok: false, failedHosts: ['H.example.com.'] }); // failure at 100
    await h.at(200);
    void h.submit({ id: 'j3', account: 'A', names: ['h.example.com'] });
    void h.submit({ id: 'j4', account: 'A', names: ['other.example.com'] });
    void h.submit({ id: 'j5', account: 'B', names: ['h.example.com'] }); // another account
    void h.submit({ id: 'j6', account: 'A', names: ['*.h.example.com'] }); // validated as h.example.com
    await flush();
    assert.deepEqual(h.order, ['fail1', 'fail2', 'j4', 'j5']);
    assert.deepEqual(h.events.get('j3'), { id: 'j3', startsAt: 1000, blockedBy: 'failedValidations', key: 'h.example.com' });
    assert.deepEqual(h.events.get('j6'), { id: 'j6', startsAt: 1000, blockedBy: 'failedValidations', key: 'h.example.com' });
    await h.at(999);
    assert.equal(h.starts.has('j3'), false);
    await h.at(1000);
    assert.equal(h.starts.get('j3'), 1000);
    assert.equal(h.starts.get('j6'), 1000); // j3 succeeded at once, so its held room came back
  });

  it('failed validations: running jobs hold room, so concurrent jobs for one host cannot overshoot', async () => {
    const h = new Harness({ failedValidationsPerHost: { count: 1, windowMs: 1000 } });
    void h.submit({ id: 'a', account: 'A', names: ['h.example.com'] });
    void h.submit({ id: 'b', account: 'A', names: ['h.example.com'] });
    await flush();
    assert.deepEqual(h.order, ['a']);
    // Its wait depends on a (running): no time can be promised.
    assert.deepEqual(h.events.get('b'), { id: 'b', startsAt: undefined, blockedBy: 'failedValidations', key: 'h.example.com' });
    await h.at(50);
    h.release('a', { ok: false, failedHosts: ['h.example.com'] });
    await h.at(1049);
    assert.equal(h.starts.has('b'), false);
    await h.at(1050);
    assert.equal(h.starts.get('b'), 1050);
  });
});

describe('RateLimitGate: ordering', () => {
  it('no head-of-line blocking: a job held by its domain takes no slot and holds back no other domain', async () => {
    const h = new Harness({ certificatesPerRegisteredDomain: { count: 1, windowMs: 1000 } }, 1);
    void h.submit({ id: 'a', account: 'A', names: ['a.example.com'] });
    void h.submit({ id: 'b', account: 'A', names: ['b.example.com'] }); // same registered domain as a
    void h.submit({ id: 'c', account: 'A', names: ['c.example.org'] });
    await flush();
    assert.deepEqual(h.order, ['a']);
    assert.equal(h.events.get('b')?.blockedBy, 'registeredDomain');
    assert.equal(h.events.get('c')?.blockedBy, 'concurrency');
    await h.at(10);
    h.release('a');
    await flush();
    assert.deepEqual(h.order, ['a', 'c']); // c overtakes b, which its domain holds
    await h.at(1010);
    assert.equal(h.starts.has('b'), false); // b's domain is free, but the only slot is c's
    await h.at(1500);
    h.release('c');
    await flush();
    assert.equal(h.starts.get('b'), 1500);
  });

  it('FIFO per blocker, priority first; a newcomer never overtakes an older job parked on a shared limit', async () => {
    const h = new Harness({ newOrdersPerAccount: { count: 1, windowMs: 1000 } }, undefined, ok);
    for (const id of ['j1', 'j2', 'j3', 'j4']) void h.submit({ id, account: 'A', names: [`${id}.example.com`] });
    void h.submit({ id: 'p', account: 'A', names: ['p.example.com'], priority: 1 });
    await h.at(500);
    void h.submit({ id: 'late', account: 'A', names: ['late.example.com'] });
    await h.settle();
    assert.deepEqual(h.order, ['j1', 'p', 'j2', 'j3', 'j4', 'late']);
    assert.deepEqual(['j1', 'p', 'j2', 'j3', 'j4', 'late'].map((id) => h.starts.get(id)), [0, 1000, 2000, 3000, 4000, 5000]);
    assert.equal(h.events.get('p')?.startsAt, 1000);
    assert.equal(h.events.get('late')?.startsAt, 5000);
  });
});

describe('RateLimitGate: ordering when two limits free at once', () => {
  it('an older job parked on a limit keeps its turn when another limit of a younger job frees first', async () => {
    const h = new Harness(
      { newOrdersPerAccount: { count: 1, windowMs: 1000 }, duplicateCertificates: { count: 1, windowMs: 1000 } },
      undefined,
      (id) => (id === 'j0' ? undefined : { ok: true }),
    );
    void h.submit({ id: 'j0', account: 'A', names: ['x.example.com'] });
    void h.submit({ id: 'j1', account: 'A', names: ['y.example.com'] }); // waits for A's new order
    void h.submit({ id: 'j2', account: 'A', names: ['x.example.com'] }); // waits for x's duplicate, then A's order
    await h.at(10);
    h.release('j0'); // both limits free again at 1010, x's first
    await h.settle();
    assert.deepEqual(h.order, ['j0', 'j1', 'j2']);
    assert.deepEqual([h.starts.get('j1'), h.starts.get('j2')], [1010, 2010]);
  });
});

describe('RateLimitGate: abort and stop', () => {
  it('an aborted queued job rejects with AbortedError and frees its place', async () => {
    const h = new Harness({ certificatesPerRegisteredDomain: { count: 1, windowMs: 1000 } }, undefined, ok);
    void h.submit({ id: 'j1', account: 'A', names: ['a.example.com'] });
    const ac = new AbortController();
    const j2 = h.gate.acquire({ id: 'j2', account: 'A', names: ['b.example.com'] }, ac.signal);
    void h.submit({ id: 'j3', account: 'A', names: ['c.example.com'] });
    await flush();
    assert.equal(h.events.get('j3')?.startsAt, 2000);
    ac.abort();
    const err = await caught(j2, AbortedError);
    assert.equal(err.code, ErrorCode.aborted);
    assert.equal(err.data['jobId'], 'j2');
    assert.equal(h.gate.queued, 1);
    await h.settle();
    assert.equal(h.starts.get('j3'), 1000); // j2's place went to j3

    const pre = new AbortController();
    pre.abort();
    assert.equal((await caught(h.gate.acquire({ id: 'j4', account: 'A', names: ['d.example.net'] }, pre.signal), AbortedError)).code, ErrorCode.aborted);
  });

  it('aborting a job that waits only for a slot gives its tokens back', async () => {
    const h = new Harness({ duplicateCertificates: { count: 1, windowMs: 5000 } }, 1);
    void h.submit({ id: 'run', account: 'A', names: ['run.example.com'] });
    const ac = new AbortController();
    const ready = h.gate.acquire({ id: 'ready', account: 'A', names: ['y.example.com'] }, ac.signal);
    void h.submit({ id: 'next', account: 'A', names: ['y.example.com'] });
    await flush();
    assert.equal(h.events.get('next')?.blockedBy, 'duplicate');
    ac.abort();
    await caught(ready, AbortedError);
    await h.at(70);
    h.release('run');
    await flush();
    assert.equal(h.starts.get('next'), 70); // y's certificate token came back with the abort
  });

  it('stop() rejects every queued job, leaves no timer, and later acquires reject', async () => {
    const h = new Harness({ newOrdersPerAccount: { count: 1, windowMs: 60_000 } }, 1);
    void h.submit({ id: 'run', account: 'A', names: ['a.example.com'] });
    void h.submit({ id: 'ready', account: 'B', names: ['b.example.com'] }); // waits for the slot
    void h.submit({ id: 'parked', account: 'A', names: ['c.example.com'] }); // waits for A's limit
    await flush();
    h.release('run'); // commits A's order: 'parked' now has a wake-up timer
    await flush();
    assert.deepEqual(h.order, ['run', 'ready']);
    void h.submit({ id: 'parked2', account: 'B', names: ['d.example.com'] });
    await flush();
    assert.equal(h.clock.pending().length, 1);
    h.gate.stop();
    await flush();
    assert.deepEqual(h.clock.pending(), []);
    assert.ok(h.errors.get('parked') instanceof AbortedError);
    assert.ok(h.errors.get('parked2') instanceof AbortedError);
    assert.equal(h.gate.queued, 0);
    await caught(h.gate.acquire({ id: 'late', account: 'A', names: ['e.example.com'] }), AbortedError);
    assert.throws(() => h.gate.estimate({ id: 'late', account: 'A', names: ['e.example.com'] }), AbortedError);
    h.release('ready'); // a ticket given out before stop still settles, and sets no timer
    assert.deepEqual(h.clock.pending(), []);
    h.gate.stop(); // twice is fine
  });
});

describe('RateLimitGate: estimates', () => {
  it('estimate() and onQueued give the actual start times in a deterministic scenario', async () => {
    const limits: RateLimits = {
      newOrdersPerAccount: { count: 3, windowMs: 1000 },
      certificatesPerRegisteredDomain: { count: 2, windowMs: 3000 },
      duplicateCertificates: { count: 1, windowMs: 5000 },
      failedValidationsPerHost: { count: 1, windowMs: 2000 },
    };
    const h = new Harness(limits, 100, (id) => (id === 'f1' ? { ok: false, failedHosts: ['f.example.com'] } : { ok: true }));
    const jobs: GateJob[] = [
      { id: 'f1', account: 'D', names: ['f.example.com'] },
      ...['j1', 'j2', 'j3', 'j4', 'j5', 'j6', 'j7', 'j8'].map((id) => ({ id, account: 'A', names: [`www.${id}-example.net`] })),
      { id: 'k1', account: 'B', names: ['k.example.org', 'www.k.example.org'] },
      { id: 'k2', account: 'B', names: ['www.k.example.org', 'k.example.org'] },
      { id: 'r1', account: 'C', names: ['a.example.biz', 'b.example.io'] },
      { id: 'r2', account: 'C', names: ['c.example.io'] },
      { id: 'r3', account: 'C', names: ['d.example.io'] },
      { id: 'f2', account: 'D', names: ['f.example.com', 'g.example.com'] },
    ];
    const estimates = new Map<string, number | undefined>();
    for (const job of jobs) {
      estimates.set(job.id, h.gate.estimate(job).startsAt);
      void h.submit(job);
      if (job.id === 'f1') await flush(); // f1 fails at 0 before the others come
    }
    await h.settle();
    const expected: Record<string, number> = {
      f1: 0, j1: 0, j2: 0, j3: 0, j4: 1000, j5: 1000, j6: 1000, j7: 2000, j8: 2000,
      k1: 0, k2: 5000, r1: 0, r2: 0, r3: 3000, f2: 2000,
    };
    for (const job of jobs) {
      assert.equal(h.starts.get(job.id), expected[job.id], `${job.id} started`);
      assert.equal(estimates.get(job.id), expected[job.id], `${job.id} estimate()`);
      const event = h.events.get(job.id);
      if (expected[job.id] === 0) assert.equal(event, undefined, `${job.id} was not queued`);
      else assert.equal(event?.startsAt, expected[job.id], `${job.id} onQueued`);
    }
    assert.deepEqual(
      ['j4', 'k2', 'r3', 'f2'].map((id) => [h.events.get(id)?.blockedBy, h.events.get(id)?.key]),
      [['newOrders', 'A'], ['duplicate', 'k.example.org,www.k.example.org'], ['registeredDomain', 'example.io'], ['failedValidations', 'f.example.com']],
    );
  });
});

describe('RateLimitGate: no window of time exceeds a limit (random streams, heavy queued load)', () => {
  const limits = {
    newOrdersPerAccount: { count: 4, windowMs: 1000 },
    certificatesPerRegisteredDomain: { count: 3, windowMs: 2500 },
    duplicateCertificates: { count: 2, windowMs: 4000 },
    failedValidationsPerHost: { count: 2, windowMs: 1500 },
  } as const;
  const maxConcurrent = 3;

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`seed ${seed}: 300 jobs, random names, durations and failures`, async () => {
      const rnd = seeded(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const clock = new FakeClock(0);
      const gate = new RateLimitGate({ clock, limits, maxConcurrent });
      const registered = ['alpha.com', 'beta.co.uk', 'gamma.org', 'delta.net', 'user.github.io'];
      const subs = ['', 'www.', 'api.', 'shop.'];
      const series = new Map<string, number[]>();
      const add = (key: string, t: number): void => void (series.get(key) ?? series.set(key, []).get(key)!).push(t);
      let done = 0;
      let maxRunning = 0;
      let maxQueued = 0;
      const N = 300;
      for (let i = 0; i < N; i++) {
        const account = pick(['acct-1', 'acct-2']);
        const names = [...new Set(Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => pick(subs) + pick(registered)))];
        const arrival = Math.floor(rnd() * 8000);
        const duration = rnd() < 0.3 ? 0 : Math.floor(rnd() * 600);
        const r = rnd();
        const failedHost = names[0]!;
        const outcome: GateOutcome =
          r < 0.6 ? { ok: true } : r < 0.85 ? { ok: false, failedHosts: [failedHost] } : { ok: false, certificateIssued: false };
        clock.setTimeout(() => {
          void gate.acquire({ id: `job${i}`, account, names, priority: rnd() < 0.1 ? 1 : 0 }).then((ticket) => {
            const start = ticket.startedAt;
            assert.ok(gate.running <= maxConcurrent);
            maxRunning = Math.max(maxRunning, gate.running);
            clock.setTimeout(() => {
              const end = clock.now();
              ticket.release(outcome);
              done++;
              for (const t of [start, end]) add(`order ${account}`, t);
              if (outcome.ok || outcome.certificateIssued !== false) {
                for (const t of [start, end]) {
                  for (const d of new Set(names.map((n) => registeredDomain(n)))) add(`domain ${d}`, t);
                  add(`set ${[...names].sort().join(',')}`, t);
                }
              }
              for (const host of outcome.failedHosts ?? []) add(`failure ${account} ${host}`, end);
            }, duration);
          });
          maxQueued = Math.max(maxQueued, gate.queued);
        }, arrival);
      }
      for (let step = 0; done < N; step++) {
        assert.ok(step < 200_000, 'the simulation never finished');
        await flush();
        const next = clock.pending()[0];
        if (next !== undefined) clock.advance(next);
        maxQueued = Math.max(maxQueued, gate.queued);
      }
      await flush();
      assert.deepEqual(clock.pending(), [], 'no timer is left once every job is done');
      assert.equal(gate.running, 0);
      assert.equal(gate.queued, 0);
      assert.equal(maxRunning, maxConcurrent);
      assert.ok(maxQueued >= 50, `heavy load: ${maxQueued} queued at the peak`);
      const limitOf = (key: string): { count: number; windowMs: number } =>
        key.startsWith('order') ? limits.newOrdersPerAccount
        : key.startsWith('domain') ? limits.certificatesPerRegisteredDomain
        : key.startsWith('set') ? limits.duplicateCertificates
        : limits.failedValidationsPerHost;
      // Starts and releases are separate series (the CA's event lies between the two).
      const bySeries = new Map<string, number[]>();
      for (const [key, times] of series) {
        if (key.startsWith('failure')) bySeries.set(key, times);
        else {
          // times alternate start, end per job
          bySeries.set(`${key} (starts)`, times.filter((_, k) => k % 2 === 0));
          bySeries.set(`${key} (ends)`, times.filter((_, k) => k % 2 === 1));
        }
      }
      let binding = 0;
      for (const [key, times] of bySeries) {
        const { count, windowMs } = limitOf(key);
        const worst = maxInAnyWindow(times, windowMs);
        assert.ok(worst <= count, `${key}: ${worst} events in one window of ${windowMs} ms > ${count}`);
        if (worst === count) binding++;
      }
      assert.ok(binding >= 5, 'the limits were actually reached');
    });
  }
});

describe('RateLimitGate: scale', () => {
  it('10,000 queued jobs under the Let\'s Encrypt production limits all start, within every limit', async (t) => {
    const clock = new FakeClock(0);
    const gate = new RateLimitGate({ clock, limits: LETS_ENCRYPT_PRODUCTION_LIMITS, maxConcurrent: 10 });
    const N = 10_000;
    const starts: number[] = [];
    const byDomain = new Map<string, number[]>();
    const began = performance.now();
    for (let i = 0; i < N; i++) {
      const domain = `d${i % 150}.example`;
      void gate.acquire({ id: `job${i}`, account: 'acct', names: [`host${i}.${domain}`] }).then((ticket) => {
        starts.push(ticket.startedAt);
        (byDomain.get(domain) ?? byDomain.set(domain, []).get(domain)!).push(ticket.startedAt);
        ticket.release({ ok: true });
      });
    }
    const queuedAt = performance.now();
    for (let step = 0; starts.length < N; step++) {
      assert.ok(step < 10_000, 'never finished');
      await flush();
      const next = clock.pending()[0];
      if (next !== undefined) clock.advance(next);
    }
    const elapsed = performance.now() - began;
    t.diagnostic(`queued 10,000 in ${(queuedAt - began).toFixed(0)} ms; all started after ${elapsed.toFixed(0)} ms; simulated ${(clock.now() / 3_600_000).toFixed(1)} h`);
    assert.ok(maxInAnyWindow(starts, 3 * 3_600_000) <= 300);
    for (const times of byDomain.values()) assert.ok(maxInAnyWindow(times, 7 * 24 * 3_600_000) <= 50);
    // 67 jobs per registered domain, 50 per week: the last ones wait a week.
    assert.ok(clock.now() >= 7 * 24 * 3_600_000);
    assert.deepEqual(clock.pending(), []);
  });

  it('10,000 jobs behind one slot start in order, without a timer', async () => {
    const clock = new FakeClock(0);
    const gate = new RateLimitGate({ clock, limits: UNLIMITED_LIMITS, maxConcurrent: 1 });
    const order: number[] = [];
    const began = performance.now();
    for (let i = 0; i < 10_000; i++) {
      void gate.acquire({ id: `job${i}`, account: 'acct', names: [`h${i}.example.com`] }).then((ticket) => {
        order.push(i);
        ticket.release({ ok: true });
      });
    }
    while (order.length < 10_000) await flush();
    assert.ok(performance.now() - began < 3000);
    assert.ok(order.every((v, k) => v === k));
    assert.deepEqual(clock.pending(), []);
  });
});

describe('RateLimitGate: input', () => {
  it('rejects malformed jobs with typed errors before queueing them', async () => {
    const gate = new RateLimitGate({ clock: new FakeClock(), limits: LETS_ENCRYPT_PRODUCTION_LIMITS, maxConcurrent: 2 });
    const bad: Array<[unknown, string]> = [
      [{ id: '', account: 'a', names: ['x.com'] }, ErrorCode.invalidOption],
      [{ id: 'j', account: '', names: ['x.com'] }, ErrorCode.invalidOption],
      [{ id: 'j', account: 'a', names: [] }, ErrorCode.invalidOption],
      [{ id: 'j', account: 'a', names: ['x.com'], priority: Number.NaN }, ErrorCode.invalidOption],
      [{ id: 'j', account: 'a', names: ['exa mple.com'] }, ErrorCode.invalidDomain],
      [{ id: 'j', account: 'a', names: [''] }, ErrorCode.invalidDomain],
    ];
    for (const [job, code] of bad) {
      const err = await caught(gate.acquire(job as GateJob), InvalidInputError);
      assert.equal(err.code, code);
      assert.equal(err.step, 'input');
    }
    assert.equal(gate.queued, 0);
    assert.throws(() => new RateLimitGate({ clock: new FakeClock(), maxConcurrent: 0 }), (e: unknown) => e instanceof InvalidInputError && e.data['option'] === 'maxConcurrent');
    assert.throws(
      () => new RateLimitGate({ clock: new FakeClock(), limits: { newOrdersPerAccount: { count: 0, windowMs: 1 } } }),
      (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidOption && e.data['option'] === 'limits.newOrdersPerAccount.count',
    );
  });
});

describe('rate-limit presets', () => {
  it("Let's Encrypt production and staging values, and unlimited", () => {
    const H = 3_600_000;
    assert.deepEqual(LETS_ENCRYPT_PRODUCTION_LIMITS, {
      newOrdersPerAccount: { count: 300, windowMs: 3 * H },
      certificatesPerRegisteredDomain: { count: 50, windowMs: 168 * H },
      duplicateCertificates: { count: 5, windowMs: 168 * H },
      failedValidationsPerHost: { count: 5, windowMs: H },
    });
    assert.deepEqual(LETS_ENCRYPT_STAGING_LIMITS, {
      newOrdersPerAccount: { count: 1500, windowMs: 3 * H },
      certificatesPerRegisteredDomain: { count: 30000, windowMs: 168 * H },
      duplicateCertificates: { count: 30000, windowMs: 168 * H },
      failedValidationsPerHost: { count: 200, windowMs: H },
    });
    assert.deepEqual(UNLIMITED_LIMITS, {});
    assert.ok(Object.isFrozen(LETS_ENCRYPT_PRODUCTION_LIMITS) && Object.isFrozen(LETS_ENCRYPT_PRODUCTION_LIMITS.newOrdersPerAccount));
  });

  it('custom limits: good ones are copied, bad ones throw ERR_INVALID_OPTION at step input', () => {
    assert.deepEqual(validateRateLimits({ duplicateCertificates: { count: 2, windowMs: 10 }, newOrdersPerAccount: undefined }), {
      duplicateCertificates: { count: 2, windowMs: 10 },
    });
    const cases: Array<[unknown, string]> = [
      [{ newOrdersPerAccount: { count: 0, windowMs: 1000 } }, 'limits.newOrdersPerAccount.count'],
      [{ certificatesPerRegisteredDomain: { count: -3, windowMs: 1000 } }, 'limits.certificatesPerRegisteredDomain.count'],
      [{ duplicateCertificates: { count: 2.5, windowMs: 1000 } }, 'limits.duplicateCertificates.count'],
      [{ failedValidationsPerHost: { count: 5, windowMs: 0 } }, 'limits.failedValidationsPerHost.windowMs'],
      [{ failedValidationsPerHost: { count: 5, windowMs: -1 } }, 'limits.failedValidationsPerHost.windowMs'],
      [{ failedValidationsPerHost: 5 }, 'limits.failedValidationsPerHost'],
      [{ newOrders: { count: 1, windowMs: 1 } }, 'limits.newOrders'],
      [null, 'limits'],
      [[], 'limits'],
      [{ newOrdersPerAccount: { count: 5, windowMs: 1000, burst: 3 } }, 'limits.newOrdersPerAccount.burst'],
    ];
    for (const [limits, option] of cases) {
      assert.throws(
        () => validateRateLimits(limits),
        (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidOption && e.step === 'input' && e.data['option'] === option,
        option,
      );
    }
  });
});

describe('registeredDomain (Public Suffix List)', () => {
  const table: Array<[string, string]> = [
    ['www.example.co.uk', 'example.co.uk'],
    ['new.blog.example.co.uk', 'example.co.uk'],
    ['WWW.Example.COM.', 'example.com'],
    ['*.example.com', 'example.com'],
    ['example.com', 'example.com'],
    ['blog.user.github.io', 'user.github.io'], // private section counts, as at Let's Encrypt
    ['github.io', 'github.io'], // a public suffix is its own key
    ['co.uk', 'co.uk'],
    ['localhost', 'localhost'],
    ['a.b.example.test', 'example.test'],
    ['192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2::5', '2001:db8:1:2::/64'],
    ['[2001:DB8:1:2:aaaa::1]', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
    ['::ffff:192.0.2.1', '0:0:0:0::/64'],
    ['xn--bcher-kva.de', 'xn--bcher-kva.de'],
  ];
  for (const [name, domain] of table) {
    it(`${name} → ${domain}`, () => assert.equal(registeredDomain(name), domain));
  }
  it('rejects what is not a host name', () => {
    for (const name of ['', ' ', 'exa mple.com', 'a..b.com', 'a.com/path', 'user@a.com', '.com']) {
      assert.throws(() => registeredDomain(name), (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidDomain, name);
    }
  });
});
