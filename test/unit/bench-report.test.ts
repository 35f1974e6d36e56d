/**
 * Unit tests of the benchmark's pure parts: statistics, flag parsing (comma lists), the matrix, the
 * phases of an agent, the Gantt geometry and the HTML report, the ratios and targets, and the parsers
 * of Pebble's log and /proc. No Pebble, no thread, no network.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { BenchUsageError, parseBenchArgs, parseList, type BenchArgs } from '../../bench/args.js';
import { CERTBOT, LEGO, parseVersion, type PeerJob } from '../../bench/cli-peers.js';
import { ganttBars, ganttLayout, renderGantt, tickStepMs } from '../../bench/gantt.js';
import { renderHtml } from '../../bench/html.js';
import { expandMatrix, isHeavy } from '../../bench/matrix.js';
import { median, percentile, type CellRun } from '../../bench/measure.js';
import { parseGoDuration, pebbleLogTap } from '../../bench/pebble-probe.js';
import { agentPhases, slowestValidationMs, type AgentTimeline } from '../../bench/phases.js';
import { parseProcStat } from '../../bench/proc-stat.js';
import { buildRecord, cellRatios, formatReport, medianRun, pairRatios, type AnyRecord, type BenchDocument } from '../../bench/report.js';
import { evaluateTargets } from '../../bench/targets.js';
import { wantedThreadpoolSize } from '../../bench/threadpool.js';

function args(argv: string[]): BenchArgs {
  const a = parseBenchArgs(argv);
  assert.ok(!('help' in a));
  return a;
}

function usageError(argv: string[], re: RegExp): void {
  assert.throws(() => parseBenchArgs(argv), (e: unknown) => e instanceof BenchUsageError && re.test(e.message));
}

describe('median and percentile', () => {
  it('median: odd count, even count (mean of the middle two), unsorted input, none', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([10]), 10);
    assert.ok(Number.isNaN(median([])));
  });
  it('percentile is nearest rank: p50 and p95 of 1..20, p100 is the max', () => {
    const v = Array.from({ length: 20 }, (_, i) => 20 - i);
    assert.equal(percentile(v, 50), 10);
    assert.equal(percentile(v, 95), 19);
    assert.equal(percentile(v, 100), 20);
    assert.equal(percentile([7], 95), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });
});

describe('parseBenchArgs', () => {
  it('no flags: the whole default matrix, 3 runs, every peer; heavy cells dropped', () => {
    const a = args([]);
    assert.deepEqual(a.domains, [1, 10, 50, 200]);
    assert.deepEqual(a.keyTypes, ['ec256', 'rsa2048', 'rsa4096']);
    assert.deepEqual(a.modes, ['fast', 'realistic']);
    assert.deepEqual(a.peers, ['acme-client', 'lego', 'certbot']);
    assert.equal(a.runs, 3);
    assert.equal(a.keepHeavy, false);
    assert.equal(a.peerJobs, a.agents);
  });
  it('comma lists narrow every axis; domains sorted, repeats dropped, spaces allowed', () => {
    const a = args(['--domains', '50, 10,50', '--key-type', 'rsa2048,ec256', '--mode', 'fast', '--peers', 'acme-client,lego', '--runs', '1']);
    assert.deepEqual(a.domains, [10, 50]);
    assert.deepEqual(a.keyTypes, ['rsa2048', 'ec256']);
    assert.deepEqual(a.modes, ['fast']);
    assert.deepEqual(a.peers, ['acme-client', 'lego']);
    assert.equal(a.runs, 1);
    assert.equal(a.keepHeavy, true, 'both --domains and --key-type named');
  });
  it('--json, --html, --agents, --peer-jobs, --all', () => {
    const a = args(['--json', 'x.json', '--html', 'y.html', '--agents', '50', '--peer-jobs', '4', '--all']);
    assert.equal(a.json, 'x.json');
    assert.equal(a.html, 'y.html');
    assert.equal(a.agents, 50);
    assert.equal(a.peerJobs, 4);
    assert.equal(a.keepHeavy, true);
  });
  it('refuses bad items with the flag named', () => {
    usageError(['--domains', '10,,50'], /--domains has an empty item/);
    usageError(['--domains', '0'], /--domains must be 1\.\.500, got 0/);
    usageError(['--domains', '10,x'], /--domains must be a whole number, got "x"/);
    usageError(['--key-type', 'ec256,rsa1024'], /--key-type must be among .*got "rsa1024"/);
    usageError(['--mode', 'slow'], /--mode must be among fast, realistic, got "slow"/);
    usageError(['--peers', 'acme-client,caddy'], /--peers must be among acme-client, lego, certbot, got "caddy"/);
    usageError(['--runs', '0'], /--runs must be >= 1, got 0/);
    usageError(['--json', ''], /--json needs a file name/);
    usageError(['--bogus'], /bogus/);
  });
  it('parseList keeps the first order and passes each item through', () => {
    assert.deepEqual(parseList('x', 'b,a,b,c', (s) => s.toUpperCase()), ['B', 'A', 'C']);
  });
  it('--help', () => assert.deepEqual(parseBenchArgs(['--help']), { help: true }));
});

describe('expandMatrix', () => {
  it('mode outermost, then key type, then domains; 200 x rsa4096 left out by default', () => {
    const { cells, leftOut } = expandMatrix(args([]));
    assert.equal(cells.length, 2 * 3 * 4 - 2);
    assert.deepEqual(cells[0], { mode: 'fast', keyType: 'ec256', domains: 1 });
    assert.deepEqual(cells.at(-1), { mode: 'realistic', keyType: 'rsa4096', domains: 50 });
    assert.deepEqual(leftOut, [
      { mode: 'fast', keyType: 'rsa4096', domains: 200 },
      { mode: 'realistic', keyType: 'rsa4096', domains: 200 },
    ]);
  });
  it('kept when asked for by name', () => {
    const { cells, leftOut } = expandMatrix(args(['--domains', '200', '--key-type', 'rsa4096', '--mode', 'fast']));
    assert.deepEqual(cells, [{ mode: 'fast', keyType: 'rsa4096', domains: 200 }]);
    assert.deepEqual(leftOut, []);
  });
  it('heaviness follows the keys cost: 50 x rsa4096 and 200 x rsa2048 are not heavy', () => {
    assert.equal(isHeavy({ mode: 'fast', keyType: 'rsa4096', domains: 50 }), false);
    assert.equal(isHeavy({ mode: 'fast', keyType: 'rsa2048', domains: 200 }), false);
    assert.equal(isHeavy({ mode: 'fast', keyType: 'rsa4096', domains: 200 }), true);
  });
});

const AGENT: AgentTimeline = {
  domain: 'l-c1r1-0.bench.test',
  called: 0,
  started: 100,
  idle: 110,
  pending: 200,
  answered: 220,
  valid: 600,
  finalize: 650,
  downloading: 700,
  done: 720,
  result: 800,
  keygenStart: 220,
  keygenMs: 300,
  restarts: 0,
};

describe('agentPhases', () => {
  it('one phase between each pair of points, then keygen', () => {
    assert.deepEqual(agentPhases(AGENT), [
      { name: 'queue', start: 0, end: 100 },
      { name: 'setup', start: 100, end: 110 },
      { name: 'order', start: 110, end: 200 },
      { name: 'validation', start: 200, end: 600 },
      { name: 'csr', start: 600, end: 650 },
      { name: 'finalize', start: 650, end: 700 },
      { name: 'download', start: 700, end: 720 },
      { name: 'store', start: 720, end: 800 },
      { name: 'keygen', start: 220, end: 520 },
    ]);
  });
  it('a missing point merges two phases; an out-of-order point is clamped (no overlap, no going back)', () => {
    const tl: AgentTimeline = { domain: 'd', called: 0, idle: 50, pending: 40, valid: 90, done: 120, result: 130, restarts: 0 };
    assert.deepEqual(agentPhases(tl), [
      { name: 'setup', start: 0, end: 50 },
      { name: 'order', start: 50, end: 50 },
      { name: 'validation', start: 50, end: 90 },
      { name: 'download', start: 90, end: 120 },
      { name: 'store', start: 120, end: 130 },
    ]);
  });
  it('slowestValidationMs: the longest pending-to-valid, NaN with none', () => {
    assert.equal(slowestValidationMs([AGENT, { ...AGENT, pending: 100, valid: 900 }]), 800);
    assert.ok(Number.isNaN(slowestValidationMs([{ domain: 'd', called: 0, restarts: 0 }])));
  });
});

describe('Gantt chart', () => {
  const agents = [AGENT, { ...AGENT, domain: 'l-c1r1-1.bench.test', started: 400, idle: 410, pending: 500, answered: 520, valid: 900, finalize: 950, downloading: 980, done: 990, result: 1000, keygenStart: 520 }];
  it('bar widths are the phase durations at the plot scale', () => {
    const layout = ganttLayout(agents, { width: 1060, labelWidth: 60, rowHeight: 10 });
    assert.equal(layout.spanMs, 1000, 'default span: the latest end');
    const bars = ganttBars(agents, layout);
    const q0 = bars.find((b) => b.row === 0 && b.phase === 'queue')!;
    assert.equal(q0.x, 60);
    assert.equal(q0.width, 100);
    const v1 = bars.find((b) => b.row === 1 && b.phase === 'validation')!;
    assert.equal(v1.x, 60 + 500);
    assert.equal(v1.width, 400);
    assert.equal(v1.y, 10);
    const k0 = bars.find((b) => b.row === 0 && b.phase === 'keygen')!;
    assert.equal(k0.width, 300);
    assert.ok(k0.height < layout.rowHeight / 2, 'keygen is a thin bar inside the row');
  });
  it('renders one <g class="agent"> per agent, each with its rects of the right widths', () => {
    const svg = renderGantt(agents, { width: 1060, labelWidth: 60, rowHeight: 10, spanMs: 2000 });
    const groups = [...svg.matchAll(/<g class="agent" data-domain="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(groups, ['l-c1r1-0.bench.test', 'l-c1r1-1.bench.test']);
    const widths = [...svg.matchAll(/<rect class="bar" data-phase="(\w+)" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)].map((m) => [m[1], Number(m[2]), Number(m[3])]);
    assert.equal(widths.length, 18);
    // spanMs 2000 over a 1000 px plot: half a pixel per ms.
    assert.deepEqual(widths[0], ['queue', 60, 50]);
    assert.deepEqual(widths[3], ['validation', 160, 200]);
    assert.deepEqual(widths[9], ['queue', 60, 200]);
  });
  it('escapes names and picks round ticks', () => {
    assert.match(renderGantt([{ ...AGENT, domain: 'a<b>&"' }]), /data-domain="a&lt;b&gt;&amp;&quot;"/);
    assert.equal(tickStepMs(1000), 100);
    assert.equal(tickStepMs(4300), 500);
    assert.equal(tickStepMs(13000), 2000);
  });
});

function run(over: Partial<CellRun>): CellRun {
  return {
    tool: 'leec', run: 1, domains: 50, wallSeconds: 1, cpuSeconds: 1, certsPerSecond: 50, requestsPerCert: 8.5, orderRequestsPerCert: 8.44,
    certRequests: 422, setupRequests: 3, p50Seconds: 0.5, p95Seconds: 0.9, maxSeconds: 1, peakRssMb: 200, baselineRssMb: 100,
    serverCpuSeconds: 0.5, serverRequests: 425, serverRequestsPerCert: 8.5, maxVaSleepSeconds: Number.NaN, slowestValidationSeconds: 0.3,
    phasesMs: { presented: 1, served: 2, validated: 3, done: 4 }, extra: { maxRequestsOneCert: 9 }, ...over,
  };
}

const cell = (mode: 'fast' | 'realistic', keyType: string, domains: number) => ({ mode, keyType: keyType as 'ec256', domains });

describe('records, ratios and targets', () => {
  it('buildRecord: medians over runs; only the median-wall run keeps its agent timelines', () => {
    const runs = [1, 2, 3].map((n) => run({ run: n, wallSeconds: [3, 1, 2][n - 1]!, cpuSeconds: n, agentTimelines: [AGENT] }));
    const r = buildRecord('leec', '0.1.0', cell('fast', 'ec256', 50), 8, runs);
    assert.equal(r.wallSeconds, 2);
    assert.equal(r.cpuSeconds, 2);
    assert.equal(r.ganttRun, 3);
    assert.equal(medianRun(runs)?.run, 3);
    assert.deepEqual(r.runs.map((x) => x.agentTimelines !== undefined), [false, false, true]);
  });
  it('pairRatios and cellRatios: leec over each peer, over the keygen floor, over its slowest validation', () => {
    const leec = buildRecord('leec', 'v', cell('fast', 'ec256', 50), 8, [run({ wallSeconds: 2, cpuSeconds: 3 })]);
    const ac = buildRecord('acme-client', 'v', cell('fast', 'ec256', 50), 50, [run({ tool: 'acme-client', wallSeconds: 4, cpuSeconds: 6, requestsPerCert: 17 })]);
    const floor = buildRecord('keygen-floor', 'v', cell('fast', 'ec256', 50), 50, [run({ tool: 'keygen-floor', wallSeconds: 1.6 })]);
    assert.deepEqual(pairRatios(leec, ac), { wall: 0.5, cpu: 0.5, requestsPerCert: 0.5, p95: 1, peakRss: 1 });
    const [c] = cellRatios([leec, ac, floor]);
    assert.equal(c!.vsPeers['acme-client']!.wall, 0.5);
    assert.equal(c!.wallOverKeygenFloor, 1.25);
    assert.ok(Math.abs(c!.wallOverSlowestValidation - 2 / 0.3) < 1e-9);
  });
  it('evaluateTargets: met, not met, not measured', () => {
    const records: AnyRecord[] = [
      buildRecord('leec', 'v', cell('fast', 'ec256', 50), 8, [run({ wallSeconds: 2, cpuSeconds: 5 })]),
      buildRecord('acme-client', 'v', cell('fast', 'ec256', 50), 50, [run({ tool: 'acme-client', wallSeconds: 4, cpuSeconds: 6 })]),
      buildRecord('leec', 'v', cell('fast', 'rsa2048', 50), 8, [run({ wallSeconds: 11 })]),
      buildRecord('keygen-floor', 'v', cell('fast', 'rsa2048', 50), 50, [run({ tool: 'keygen-floor', wallSeconds: 10 })]),
      buildRecord('leec', 'v', cell('realistic', 'ec256', 50), 8, [run({ wallSeconds: 6, slowestValidationSeconds: 5, orderRequestsPerCert: 9.2, requestsPerCert: 9.26 })]),
      { tool: 'lego', domains: 50, keyType: 'ec256', mode: 'fast', skipped: true, reason: 'lego is not installed' },
    ];
    const t = evaluateTargets(records, cellRatios(records));
    const by = Object.fromEntries(t.map((x) => [x.id, x]));
    assert.equal(by['ec256x50-wall']!.status, 'met');
    assert.equal(by['ec256x50-wall']!.value, 0.5);
    assert.equal(by['ec256x50-cpu']!.status, 'not met');
    assert.ok(Math.abs(by['ec256x50-cpu']!.value - 5 / 6) < 1e-9);
    assert.equal(by['rsa2048x50-floor']!.status, 'met');
    assert.ok(Math.abs(by['rsa2048x50-floor']!.value - 1.1) < 1e-9);
    assert.equal(by['rsa4096x50-floor']!.status, 'not measured');
    assert.match(by['rsa4096x50-floor']!.detail, /--domains 50 --key-type rsa4096 --mode fast/);
    assert.equal(by['realistic-ec256x50']!.status, 'met');
    assert.equal(by['realistic-ec256x50']!.value, 1.2);
    // Fast cells only (8.44 in both); the realistic cell's 9.2 is in the detail.
    assert.equal(by['requests-per-cert']!.status, 'met');
    assert.equal(by['requests-per-cert']!.value, 8.44);
    assert.match(by['requests-per-cert']!.detail, /realistic mode, polls during the VA sleep included: 9\.20/);
  });
});

describe('HTML report', () => {
  it('is one self-contained file with the targets, the figures and one Gantt row per agent of the chosen run', () => {
    const timelines = Array.from({ length: 5 }, (_, i) => ({ ...AGENT, domain: `l-c1r2-${i}.bench.test` }));
    const leec = buildRecord('leec', '0.1.0', cell('fast', 'ec256', 5), 8, [
      run({ run: 1, domains: 5, wallSeconds: 0.9, agentTimelines: timelines.slice(0, 2) }),
      run({ run: 2, domains: 5, wallSeconds: 1.0, agentTimelines: timelines }),
      run({ run: 3, domains: 5, wallSeconds: 1.2, agentTimelines: timelines.slice(0, 3) }),
    ]);
    const skipped: AnyRecord = { tool: 'certbot', domains: 5, keyType: 'ec256', mode: 'fast', skipped: true, reason: 'certbot is not installed' };
    const records: AnyRecord[] = [leec, skipped];
    const ratios = cellRatios(records);
    const doc: BenchDocument = {
      generatedAt: '2026-01-01T00:00:00.000Z', args: args(['--runs', '3']), node: 'v20', cpus: 2, cpuModel: 'test', platform: 'linux', uvThreadpoolSize: 4,
      loadAverage: { start: [0, 0, 0], end: [0, 0, 0] }, pebble: { fast: { env: { PEBBLE_AUTHZREUSE: '0' }, vaSleepLine: 'Disabling random VA sleeps' } },
      leftOut: [], notes: ['a <note>'], records, ratios, targets: evaluateTargets(records, ratios), totalSeconds: 4,
    };
    const html = renderHtml(doc);
    assert.match(html, /^<!doctype html>/);
    assert.doesNotMatch(html, /<script|<link|src="http|href="http/, 'no script, no external asset');
    assert.equal((html.match(/<svg /g) ?? []).length, 1);
    assert.equal((html.match(/<g class="agent"/g) ?? []).length, 5, 'the median-wall run (run 2) has 5 agents');
    // spanMs is the run's wall (1000 ms) over a 940 px plot: the 400 ms validation is 376 px wide.
    assert.match(html, /data-phase="validation" x="[\d.]+" y="0" width="376"/);
    assert.match(html, /certbot skipped in 1 cell\(s\) \(5 x ec256 fast\): certbot is not installed/);
    assert.match(html, /a &lt;note&gt;/);
    assert.match(html, /<tr class="not-measured">/);
    assert.match(formatReport(doc), /targets\n/);
  });
});

describe('Pebble log, /proc, CLI peers, thread pool', () => {
  it('parseGoDuration reads Go durations in ms', () => {
    assert.equal(parseGoDuration('4.25s'), 4250);
    assert.equal(parseGoDuration('812.5ms'), 812.5);
    assert.equal(parseGoDuration('1m2.5s'), 62500);
    assert.equal(parseGoDuration('0s'), 0);
    assert.ok(Number.isNaN(parseGoDuration('4.25 s')));
    assert.ok(Number.isNaN(parseGoDuration('')));
  });
  it('the log tap counts requests and the longest VA sleep per window', () => {
    const tap = pebbleLogTap();
    tap.onLine('pebble: Pebble 2026/12/03 20:19:39 GET /dir -> calling handler()');
    const w = tap.open();
    tap.onLine('pebble: Pebble 2026/12/03 20:19:39 HEAD /nonce-plz -> calling handler()');
    tap.onLine('pebble: Pebble 2026/12/03 20:19:39 POST /chalZ/abc -> calling handler()');
    tap.onLine('pebble: Pebble 2026/12/03 20:19:39 Sleeping for 3.5s seconds before validating');
    tap.onLine('pebble: Pebble 2026/12/03 20:19:39 Sleeping for 900ms seconds before validating');
    tap.onLine('pebble: Pebble 2026/12/03 20:19:39 Generated new root issuer');
    assert.equal(w.requests(), 2);
    assert.equal(w.maxSleepMs(), 3500);
    assert.ok(Number.isNaN(tap.open().maxSleepMs()));
  });
  it('parseProcStat: a command name with spaces and parentheses, fields 4 and 14-17', () => {
    const s = parseProcStat('4414 (pe bble) (x)) S 4413 4413 2883 0 -1 4194560 1 0 0 0 123 45 6 7 20 0 9 0 1073 1000 361');
    assert.deepEqual(s, { pid: 4414, comm: 'pe bble) (x)', ppid: 4413, utime: 123, stime: 45, cutime: 6, cstime: 7 });
  });
  const job: PeerJob = { directoryUrl: 'https://127.0.0.1:1/dir', caFile: '/t/ca.pem', name: 'g-c1r1-0.bench.test', keyType: 'rsa2048', webroot: '/t/w', dir: '/t/p0' };
  it('lego: webroot http-01, its own --path, trust by LEGO_CA_CERTIFICATES', () => {
    const { args: a, env } = LEGO.command(job);
    assert.deepEqual(a.slice(-1), ['run']);
    assert.equal(a[a.indexOf('--key-type') + 1], 'rsa2048');
    assert.equal(a[a.indexOf('--http.webroot') + 1], '/t/w');
    assert.equal(a[a.indexOf('--path') + 1], '/t/p0');
    assert.deepEqual(env, { LEGO_CA_CERTIFICATES: '/t/ca.pem' });
    assert.equal(LEGO.certificateFile(job), '/t/p0/certificates/g-c1r1-0.bench.test.crt');
  });
  it('certbot: certonly --webroot, its own dirs, key flags per type, trust by REQUESTS_CA_BUNDLE', () => {
    const { args: a, env } = CERTBOT.command(job);
    assert.equal(a[0], 'certonly');
    assert.ok(a.includes('--non-interactive'));
    assert.deepEqual(a.slice(a.indexOf('--key-type'), a.indexOf('--key-type') + 4), ['--key-type', 'rsa', '--rsa-key-size', '2048']);
    const ec = CERTBOT.command({ ...job, keyType: 'ec256' }).args;
    assert.deepEqual(ec.slice(ec.indexOf('--key-type'), ec.indexOf('--key-type') + 4), ['--key-type', 'ecdsa', '--elliptic-curve', 'secp256r1']);
    assert.equal(a[a.indexOf('--config-dir') + 1], '/t/p0/config');
    assert.deepEqual(env, { REQUESTS_CA_BUNDLE: '/t/ca.pem' });
    assert.equal(CERTBOT.certificateFile(job), '/t/p0/config/live/g-c1r1-0.bench.test/fullchain.pem');
    assert.equal(parseVersion('lego version 4.9.1 linux/amd64'), '4.9.1');
    assert.equal(parseVersion('certbot 2.1.0\n'), '2.1.0');
  });
  it('the thread pool is resized only when unset and smaller than the cores', () => {
    assert.equal(wantedThreadpoolSize(16, {}), 16);
    assert.equal(wantedThreadpoolSize(2, {}), undefined);
    assert.equal(wantedThreadpoolSize(16, { UV_THREADPOOL_SIZE: '4' }), undefined);
  });
});
