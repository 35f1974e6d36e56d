/**
 * Worker-thread entry of an agent: the piscina task function. Thin on purpose; the job lives in
 * src/agent/agent-job.ts so it can be read and tested without a thread.
 */
import { runAgentJob } from '../src/agent/agent-job.js';

export default runAgentJob;
