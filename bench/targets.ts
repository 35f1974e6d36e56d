/**
 * The performance targets of the lifecycle issue, checked on one bench run (medians, same run):
 *  - ec256 x 50, fast: leec wall <= 0.5 x acme-client's, CPU <= 0.6 x;
 *  - rsa2048 x 50, fast: leec wall <= 1.2 x the keygen floor; rsa4096 x 50, fast: <= 1.05 x;
 *  - realistic x 50: leec wall <= 1.5 x its slowest single validation (LEEC pending to valid);
 *  - at most 9 ACME requests per single-name certificate (fast mode: no polls while the VA sleeps).
 * A target whose cell was not run is "not measured", with the flags that run it.
 */
import { isMeasured, type AnyRecord, type CellRatios } from './report.js';

export type TargetStatus = 'met' | 'not met' | 'not measured';

export interface TargetResult {
  id: string;
  description: string;
  value: number;
  limit: number;
  status: TargetStatus;
  detail: string;
}

function judge(id: string, description: string, value: number, limit: number, detail: string, howToRun: string): TargetResult {
  if (!Number.isFinite(value)) return { id, description, value: Number.NaN, limit, status: 'not measured', detail: `run ${howToRun}` };
  return { id, description, value, limit, status: value <= limit ? 'met' : 'not met', detail };
}

export function evaluateTargets(records: readonly AnyRecord[], ratios: readonly CellRatios[]): TargetResult[] {
  const cell = (mode: string, keyType: string, domains: number): CellRatios | undefined =>
    ratios.find((r) => r.mode === mode && r.keyType === keyType && r.domains === domains);
  const measured = records.filter(isMeasured);
  const rec = (tool: string, mode: string, keyType: string, domains: number) =>
    measured.find((r) => r.tool === tool && r.mode === mode && r.keyType === keyType && r.domains === domains);
  const out: TargetResult[] = [];

  const ec = cell('fast', 'ec256', 50);
  const ecRun = '--domains 50 --key-type ec256 --mode fast --peers acme-client';
  const leecEc = rec('leec', 'fast', 'ec256', 50);
  const acEc = rec('acme-client', 'fast', 'ec256', 50);
  out.push(judge('ec256x50-wall', 'ec256 x 50 fast: leec wall / acme-client wall', ec?.vsPeers['acme-client']?.wall ?? Number.NaN, 0.5,
    `${leecEc?.wallSeconds.toFixed(3)} s / ${acEc?.wallSeconds.toFixed(3)} s`, ecRun));
  out.push(judge('ec256x50-cpu', 'ec256 x 50 fast: leec CPU / acme-client CPU', ec?.vsPeers['acme-client']?.cpu ?? Number.NaN, 0.6,
    `${leecEc?.cpuSeconds.toFixed(3)} s / ${acEc?.cpuSeconds.toFixed(3)} s`, ecRun));

  for (const [keyType, limit] of [['rsa2048', 1.2], ['rsa4096', 1.05]] as const) {
    const c = cell('fast', keyType, 50);
    const l = rec('leec', 'fast', keyType, 50);
    const f = rec('keygen-floor', 'fast', keyType, 50);
    out.push(judge(`${keyType}x50-floor`, `${keyType} x 50 fast: leec wall / keygen floor wall`, c?.wallOverKeygenFloor ?? Number.NaN, limit,
      `${l?.wallSeconds.toFixed(3)} s / ${f?.wallSeconds.toFixed(3)} s`, `--domains 50 --key-type ${keyType} --mode fast`));
  }

  const realistic = ratios.filter((r) => r.mode === 'realistic' && r.domains === 50);
  if (realistic.length === 0) {
    out.push(judge('realistic-x50', 'realistic x 50: leec wall / slowest validation', Number.NaN, 1.5, '', '--domains 50 --key-type ec256 --mode realistic'));
  }
  for (const c of realistic) {
    const l = rec('leec', 'realistic', c.keyType, 50);
    out.push(judge(`realistic-${c.keyType}x50`, `realistic ${c.keyType} x 50: leec wall / slowest validation`, c.wallOverSlowestValidation, 1.5,
      `median of per-run ratios; wall ${l?.wallSeconds.toFixed(3)} s, slowest pending to valid ${l?.slowestValidationSeconds.toFixed(3)} s, Pebble's longest VA sleep ${l?.maxVaSleepSeconds.toFixed(3)} s`,
      `--domains 50 --mode realistic --key-type ${c.keyType}`));
  }

  // Requests of the order itself (the one-time directory, nonce and newAccount left out), worst fast
  // cell. In realistic mode the count also holds the authorization polls made while Pebble's VA sleeps
  // (no Retry-After), a cost of the CA's latency rather than of the protocol flow: shown in the detail.
  const worstOf = (mode: string) => {
    const leecs = measured.filter((r) => r.tool === 'leec' && r.mode === mode && Number.isFinite(r.orderRequestsPerCert));
    return leecs.reduce<(typeof leecs)[number] | undefined>((w, r) => (w === undefined || r.orderRequestsPerCert > w.orderRequestsPerCert ? r : w), undefined);
  };
  const worst = worstOf('fast');
  const worstRealistic = worstOf('realistic');
  const maxOne = worst ? Math.max(...worst.runs.map((run) => run.extra['maxRequestsOneCert'] ?? Number.NaN).filter((v) => Number.isFinite(v))) : Number.NaN;
  out.push(judge('requests-per-cert', 'ACME requests per single-name certificate (leec, fast)', worst?.orderRequestsPerCert ?? Number.NaN, 9,
    [
      worst ? `worst cell ${worst.domains} x ${worst.keyType} (median; setup excluded: with it ${worst.requestsPerCert.toFixed(2)}; Pebble counted ${worst.serverRequestsPerCert.toFixed(2)}); costliest single certificate ${maxOne} (badNonce retries included)` : '',
      worstRealistic ? `realistic mode, polls during the VA sleep included: ${worstRealistic.orderRequestsPerCert.toFixed(2)} (${worstRealistic.domains} x ${worstRealistic.keyType})` : '',
    ].filter((x) => x !== '').join('; '),
    'any fast cell (--mode fast)'));
  return out;
}
