/**
 * The supervisor-wide bound on RSA key generations (keygenConcurrency), against Pebble: with a bound of 1,
 * three agents sharing one thread generate their keys one after another; with a bound of 3 the same three
 * overlap (so the first check can fail). Key generation spans come from the agents' own threads
 * (test/support/keygen-tracing-agent.ts), in absolute time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../support/pebble-harness.js';
import { KEYGEN_CHANNEL, type KeygenSpan } from '../support/keygen-tracing-agent.js';
import { until } from '../support/until.js';

const TRACING_AGENT = new URL('../support/keygen-tracing-agent.js', import.meta.url).href;
const CRASHING_AGENT = new URL('../support/crashing-agent.js', import.meta.url).href;

/** The most spans running at one moment. */
function maxOverlap(spans: KeygenSpan[]): number {
  const edges = spans.flatMap((s) => [[s.start, 1], [s.end, -1]] as Array<[number, number]>).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of edges) {
    now += d;
    most = Math.max(most, now);
  }
  return most;
}

describe('keygenConcurrency bounds RSA key generations across agents (Pebble)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h?.close());

  for (const bound of [1, 3]) {
    it(`bound ${bound}: three rsa2048 agents on one thread, at most ${bound} keys at once`, { timeout: 120_000 }, async () => {
      const sup = await h.supervisor({ keyType: 'rsa2048', keygenConcurrency: bound, maxConcurrentAgents: 3, agentsPerThread: 3, agentEntry: TRACING_AGENT });
      const spans: KeygenSpan[] = [];
      const channel = new BroadcastChannel(KEYGEN_CHANNEL);
      channel.onmessage = (ev: MessageEvent) => spans.push(ev.data as KeygenSpan);
      try {
        const names = [1, 2, 3].map((i) => `keygen${bound}-${i}.example.test`);
        const results = await Promise.all(names.map((d) => sup.obtainCertificate(d)));
        assert.deepEqual(results.map((r) => r.names[0]), names);
        assert.equal(new Set(results.map((r) => r.threadId)).size, 1, 'the three agents shared one thread');
        await until(() => spans.length === 3, 'three keygen spans', 5_000);
        for (const s of spans) assert.ok(s.start !== undefined && s.end !== undefined && s.end > s.start, JSON.stringify(s));
        const most = maxOverlap(spans);
        if (bound === 1) assert.equal(most, 1, `key generations overlapped: ${JSON.stringify(spans)}`);
        else assert.ok(most > 1, `with a bound of ${bound} the three keys should overlap: ${JSON.stringify(spans)}`);
      } finally {
        channel.close();
        await sup.shutdown();
      }
    });
  }

  it('an agent that dies holding the only permit hands it back: its restart and another domain still get keys', { timeout: 60_000 }, async () => {
    // rsa4096: the key (started once the order is placed) takes far longer than answering the challenge,
    // so the first incarnation dies (process.exit in its thread, right after challengeAnswered) while its
    // key is being generated under the one permit. Alone, so no other agent holds the permit then: a
    // permit that died with it would leave the restart waiting.
    const sup = await h.supervisor({ keyType: 'rsa4096', keygenConcurrency: 1, agentEntry: CRASHING_AGENT });
    const restarts: string[] = [];
    sup.on('agent:restart', (e) => restarts.push(e.domain));
    try {
      const crashed = 'crash-exit-challengeanswered.keygen.example.test';
      assert.equal((await sup.obtainCertificate(crashed)).names[0], crashed);
      assert.deepEqual(restarts, [crashed]);
      const next = 'after-crash.keygen.example.test';
      assert.equal((await sup.obtainCertificate(next)).names[0], next);
    } finally {
      await sup.shutdown();
    }
  });
});
