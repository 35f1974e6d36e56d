/**
 * Worker-thread entry of an agent: the piscina task function. Thin on purpose; the job lives in
 * src/runtime/agent-job.ts so it can be read and tested without a thread.
 */
import { runAgentJob } from '../src/runtime/agent-job.js';

export default runAgentJob;
