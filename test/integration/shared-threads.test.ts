/**
 * agentsPerThread against Pebble: 1 gives each agent a thread of its own; above 1, several agents on one
 * worker thread run at once (piscina is given
 * no abort signal, which would make it run them one by one); a graceful stop() ends one agent and leaves
 * its thread mates alone; killAgent() ends the whole thread, and every agent on it restarts and resumes
 * its own order (one order per domain).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { threadId } from 'node:worker_threads';
import { startHarness, type Harness } from '../support/pebble-harness.js';
import { AbortedError } from '../../src/errors.js';

describe('agents sharing worker threads (agentsPerThread)', { timeout: 120_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  it('agentsPerThread 1: ten domains in parallel run on ten worker threads, one agent each', async () => {
    const sup = await h.supervisor({ maxConcurrentAgents: 10, agentsPerThread: 1, autoRenew: false });
    try {
      const names = Array.from({ length: 10 }, (_, i) => `iso-${i}.example.test`);
      const results = await Promise.all(names.map((d) => sup.obtainCertificate(d)));
      assert.deepEqual(results.map((r) => r.domain), names);
      const threads = new Set(results.map((r) => r.threadId));
      assert.equal(threads.size, 10, `expected 10 distinct agent threads, got ${[...threads].join(',')}`);
      assert.ok(!threads.has(threadId), 'no agent ran on the main thread');
    } finally {
      await sup.shutdown();
    }
  });

  it('10 agents on 2 threads run at the same time and all issue', async () => {
    const sup = await h.supervisor({ maxConcurrentAgents: 10, agentsPerThread: 5, autoRenew: false });
    let inFlight = 0;
    let maxInFlight = 0;
    sup.on('state', (e) => {
      if (e.state === 'idle') maxInFlight = Math.max(maxInFlight, ++inFlight);
      if (e.state === 'done' || e.state === 'invalid') inFlight--;
    });
    const names = Array.from({ length: 10 }, (_, i) => `shared${i}.example.test`);
    const results = await Promise.all(names.map((d) => sup.obtainCertificate(d)));
    assert.deepEqual(results.map((r) => r.domain), names);
    const threads = new Set(results.map((r) => r.threadId));
    assert.ok(threads.size <= 2, `threads used: ${[...threads].join(', ')}`);
    assert.ok(maxInFlight > 5, `agents in flight at once: ${maxInFlight}`);
    await sup.shutdown();
  });

  it('stop() ends one agent; the others on its thread go on without a restart', async () => {
    const sup = await h.supervisor({ maxConcurrentAgents: 4, agentsPerThread: 4, autoRenew: false });
    const restarts: string[] = [];
    sup.on('agent:restart', (e) => restarts.push(e.domain));
    const names = ['mate0.example.test', 'mate1.example.test', 'mate2.example.test', 'mate3.example.test'];
    let stopped: Promise<void> | undefined;
    sup.on('state', (e) => {
      if (e.domain === names[0] && e.state === 'pending') stopped ??= sup.stop(names[0]!).then(() => undefined);
    });
    const outcomes = await Promise.allSettled(names.map((d) => sup.obtainCertificate(d)));
    await stopped;
    assert.equal(outcomes[0]!.status, 'rejected');
    assert.ok((outcomes[0] as PromiseRejectedResult).reason instanceof AbortedError);
    assert.deepEqual(outcomes.slice(1).map((o) => o.status), ['fulfilled', 'fulfilled', 'fulfilled']);
    assert.deepEqual(restarts, []);
    await sup.shutdown();
  });

  it('stop() before a new thread has reported: still only that agent ends, its mates do not restart', async () => {
    const sup = await h.supervisor({ maxConcurrentAgents: 4, agentsPerThread: 4, autoRenew: false });
    const restarts: string[] = [];
    sup.on('agent:restart', (e) => restarts.push(e.domain));
    const names = ['early0.example.test', 'early1.example.test', 'early2.example.test', 'early3.example.test'];
    const calls = names.map((d) => sup.obtainCertificate(d));
    // 30 ms in, the agents have been handed to a thread that is still starting: none has reported yet.
    await new Promise((r) => setTimeout(r, 30));
    const reported = sup.status().filter((j) => j.state !== 'idle').length;
    const stopped = sup.stop(names[0]!);
    const outcomes = await Promise.allSettled(calls);
    await stopped;
    assert.ok(outcomes[0]!.status === 'rejected' && (outcomes[0] as PromiseRejectedResult).reason instanceof AbortedError);
    assert.deepEqual(outcomes.slice(1).map((o) => o.status), ['fulfilled', 'fulfilled', 'fulfilled']);
    assert.deepEqual(restarts, [], `no thread mate restarted (agents past idle when stopped: ${reported})`);
    await sup.shutdown();
  });

  it('killAgent() ends the thread: every agent on it restarts and resumes its own order', async () => {
    const sup = await h.supervisor({ maxConcurrentAgents: 3, agentsPerThread: 3, autoRenew: false });
    const orders = new Map<string, Set<string>>();
    const restarted = new Set<string>();
    sup.on('agent:restart', (e) => restarted.add(e.domain));
    const names = ['kill0.example.test', 'kill1.example.test', 'kill2.example.test'];
    let pending = 0;
    let killed: Promise<boolean> | undefined;
    sup.on('state', (e) => {
      if (e.orderUrl) (orders.get(e.domain) ?? orders.set(e.domain, new Set()).get(e.domain)!).add(e.orderUrl);
      // Once all three have placed their orders (all on the one thread), end that thread.
      if (e.state === 'pending' && e.incarnation === 0 && ++pending === 3) killed = sup.killAgent(names[1]!);
    });
    const results = await Promise.all(names.map((d) => sup.obtainCertificate(d)));
    assert.equal(await killed, true);
    assert.deepEqual(results.map((r) => r.domain), names);
    assert.deepEqual([...restarted].sort(), names, 'all three agents of the thread restarted');
    for (const d of names) assert.equal(orders.get(d)?.size, 1, `${d}: one order, resumed`);
    await sup.shutdown();
  });

  it('a thread ended for one agent does not count against its mates: with maxAgentRestarts 0 the mates restart and finish', async () => {
    // maxAgentRestarts 0: a single counted restart makes a domain give up. The killed agent's own restart
    // is counted (it gives up); its mates lost their thread through no fault of theirs and carry on.
    const sup = await h.supervisor({ maxConcurrentAgents: 3, agentsPerThread: 3, maxAgentRestarts: 0, autoRenew: false });
    const restarted = new Set<string>();
    const gaveUp: string[] = [];
    sup.on('agent:restart', (e) => restarted.add(e.domain));
    sup.on('domain:gave-up', (e) => gaveUp.push(e.domain));
    const names = ['mate0.example.test', 'mate1.example.test', 'mate2.example.test'];
    let pending = 0;
    let killed: Promise<boolean> | undefined;
    sup.on('state', (e) => {
      if (e.state === 'pending' && e.incarnation === 0 && ++pending === 3) killed = sup.killAgent(names[1]!);
    });
    const outcomes = await Promise.allSettled(names.map((d) => sup.obtainCertificate(d)));
    assert.equal(await killed, true);
    assert.equal(outcomes[1]!.status, 'rejected', 'the killed agent, allowed no restart, gave up');
    assert.deepEqual(gaveUp, [names[1]]);
    assert.deepEqual([outcomes[0]!.status, outcomes[2]!.status], ['fulfilled', 'fulfilled']);
    assert.ok(restarted.has(names[0]!) && restarted.has(names[2]!), 'the mates restarted on a new thread');
    await sup.shutdown();
  });

  it('killed as it starts, before its mates have said which thread they are on: the mates are still not counted', async () => {
    const sup = await h.supervisor({ maxConcurrentAgents: 6, agentsPerThread: 6, maxAgentRestarts: 0, autoRenew: false });
    const gaveUp: string[] = [];
    sup.on('domain:gave-up', (e) => gaveUp.push(e.domain));
    const names = Array.from({ length: 6 }, (_, i) => `early-kill${i}.example.test`);
    let killed: Promise<boolean> | undefined;
    sup.on('state', (e) => {
      // The first report of the first agent: its mates on the thread have not reported yet, or just.
      if (e.domain === names[0] && e.state === 'idle' && e.incarnation === 0) killed = sup.killAgent(names[0]!);
    });
    try {
      const outcomes = await Promise.allSettled(names.map((d) => sup.obtainCertificate(d)));
      assert.equal(await killed, true);
      assert.deepEqual(gaveUp, [names[0]], 'only the killed agent gave up');
      assert.deepEqual(outcomes.slice(1).map((o) => o.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    } finally {
      await sup.shutdown();
    }
  });
});

