/**
 * An agent entry (SupervisorOptions.agentEntry) that runs leec's own agent and posts, on the
 * BroadcastChannel KEYGEN_CHANNEL, when its certificate key's generation started and ended (absolute
 * time, comparable across threads): for tests of the supervisor-wide keygen bound.
 */
import { performance } from 'node:perf_hooks';
import { runAgentJob } from '../../src/agent/agent-job.js';
import type { AgentOutcome, AgentTask } from '../../src/agent/protocol.js';
import { AgentThreadResources } from '../../src/agent/thread-resources.js';

export const KEYGEN_CHANNEL = 'leec-test-keygen';

export interface KeygenSpan {
  domain: string;
  start: number;
  end: number;
}

function tracingAgent(): (task: AgentTask) => Promise<AgentOutcome> {
  const resources = new AgentThreadResources();
  return async (task) => {
    const span: Partial<KeygenSpan> = { domain: task.domain };
    const now = (): number => performance.timeOrigin + performance.now();
    const outcome = await runAgentJob(task, (m) => {
      if (m === 'keygenStarted') span.start = now();
      if (m === 'keyGenerated') span.end = now();
    }, resources);
    const channel = new BroadcastChannel(KEYGEN_CHANNEL);
    channel.postMessage(span);
    channel.close();
    return outcome;
  };
}

export default Promise.resolve(tracingAgent());
