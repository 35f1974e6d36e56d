/**
 * The benchmark's agent entry (SupervisorOptions.agentEntry): leec's own agent (with the thread's shared
 * resources, as workers/agent.ts), observed. Each task records when it started, each flow milestone and
 * the certificate key's timing, and posts them in one message, when it ends, on a BroadcastChannel the
 * bench's main thread listens to (one message per agent keeps the measuring cheap). Times are absolute
 * (performance.timeOrigin + performance.now(), ms), so the main thread can place them on its own clock.
 */
import { performance } from 'node:perf_hooks';
import { runAgentJob } from '../src/agent/agent-job.js';
import type { AgentOutcome, AgentTask } from '../src/agent/protocol.js';
import { AgentThreadResources } from '../src/agent/thread-resources.js';

export const PHASE_CHANNEL = 'leec-bench-agent-phases';

/** One agent's points, posted once on PHASE_CHANNEL when its task ends. */
export interface PhaseMessage {
  domain: string;
  incarnation: number;
  started: number;
  milestones: Array<{ milestone: string; at: number }>;
  /** Set when the task produced an outcome (not when its thread died). */
  outcome?: { at: number; ok: boolean; keygenMs: number; threadId: number } | undefined;
}

const now = (): number => performance.timeOrigin + performance.now();

function benchHandler(): (task: AgentTask) => Promise<AgentOutcome> {
  const resources = new AgentThreadResources();
  return async (task) => {
    const m: PhaseMessage = { domain: task.domain, incarnation: task.incarnation, started: now(), milestones: [] };
    try {
      const outcome = await runAgentJob(task, (milestone) => m.milestones.push({ milestone, at: now() }), resources);
      m.outcome = {
        at: now(),
        ok: outcome.ok,
        keygenMs: outcome.ok ? outcome.certificate.timings.keygenMs : Number.NaN,
        threadId: outcome.ok ? outcome.certificate.threadId : -1,
      };
      return outcome;
    } finally {
      const channel = new BroadcastChannel(PHASE_CHANNEL);
      channel.postMessage(m);
      channel.close();
    }
  };
}

export default Promise.resolve(benchHandler());
