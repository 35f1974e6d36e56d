/**
 * A fault-injection agent entry (SupervisorOptions.agentEntry) for crash-resume tests. The domain name
 * names the fault: `crash-<exit|throw|hang>-<milestone>.<anything>` crashes the FIRST incarnation's
 * thread right after that flow milestone (orderplaced, challengeanswered, finalized, downloading):
 * `exit` calls process.exit(1) in the thread, `throw` throws uncaught, `hang` blocks the thread's loop.
 * Any other name runs the normal agent.
 */
import { runAgentJob } from '../../src/agent/agent-job.js';
import type { AgentOutcome, AgentTask } from '../../src/agent/protocol.js';

export default function crashingAgent(task: AgentTask): Promise<AgentOutcome> {
  const fault = /^crash-(exit|throw|hang)-([a-z]+)\./.exec(task.domain);
  return runAgentJob(task, (milestone) => {
    if (!fault || task.incarnation !== 0 || milestone.toLowerCase() !== fault[2]) return;
    if (fault[1] === 'exit') process.exit(1);
    if (fault[1] === 'throw') {
      setImmediate(() => {
        throw new Error(`injected crash after ${milestone}`);
      });
    }
    if (fault[1] === 'hang') {
      const until = Date.now() + 120_000;
      while (Date.now() < until) {
        // a stuck agent: its deadline must end the thread
      }
    }
  });
}
