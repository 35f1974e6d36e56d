/**
 * Worker-thread entry of an agent: the piscina task function. Thin on purpose; the job lives in
 * src/agent/agent-job.ts so it can be read and tested without a thread.
 *
 * piscina awaits a promised export once per thread, before the thread's first task: the resources
 * made here (connections to the CA, nonces, the imported account key) then serve every agent the
 * thread runs, at once or one after another, and end with the thread.
 */
import { runAgentJob } from '../src/agent/agent-job.js';
import type { AgentOutcome, AgentTask } from '../src/agent/protocol.js';
import { AgentThreadResources } from '../src/agent/thread-resources.js';

function threadHandler(): (task: AgentTask) => Promise<AgentOutcome> {
  const resources = new AgentThreadResources();
  return (task) => runAgentJob(task, undefined, resources);
}

export default Promise.resolve(threadHandler());
