/**
 * The benchmark's agent entry (SupervisorOptions.agentEntry): leec's own agent, observed. From the
 * agent's thread it posts, on a BroadcastChannel the bench's main thread listens to, when the task
 * started, each flow milestone, and the certificate key's timing from the outcome. Times are absolute
 * (performance.timeOrigin + performance.now(), ms), so the main thread can place them on its own clock.
 */
import { performance } from 'node:perf_hooks';
import { runAgentJob } from '../src/agent/agent-job.js';
import type { AgentOutcome, AgentTask } from '../src/agent/protocol.js';

export const PHASE_CHANNEL = 'leec-bench-agent-phases';

/** One message on PHASE_CHANNEL. */
export type PhaseMessage =
  | { domain: string; incarnation: number; kind: 'started'; at: number }
  | { domain: string; incarnation: number; kind: 'milestone'; milestone: string; at: number }
  | { domain: string; incarnation: number; kind: 'outcome'; at: number; ok: boolean; keygenMs: number; threadId: number };

const now = (): number => performance.timeOrigin + performance.now();

export default async function benchAgent(task: AgentTask): Promise<AgentOutcome> {
  const channel = new BroadcastChannel(PHASE_CHANNEL);
  const post = (m: PhaseMessage): void => channel.postMessage(m);
  const { domain, incarnation } = task;
  try {
    post({ domain, incarnation, kind: 'started', at: now() });
    const outcome = await runAgentJob(task, (milestone) => post({ domain, incarnation, kind: 'milestone', milestone, at: now() }));
    post({
      domain,
      incarnation,
      kind: 'outcome',
      at: now(),
      ok: outcome.ok,
      keygenMs: outcome.ok ? outcome.certificate.timings.keygenMs : Number.NaN,
      threadId: outcome.ok ? outcome.certificate.threadId : -1,
    });
    return outcome;
  } finally {
    channel.close();
  }
}
