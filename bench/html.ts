/**
 * The HTML report: one self-contained file (inline CSS and SVG, no script, no external asset) with the
 * targets, the figures, the ratios and, for each cell, the Gantt chart of leec's median-wall run with
 * where the agents' time went. Pure: a BenchDocument in, a string out.
 */
import { escapeXml as esc, renderGantt } from './gantt.js';
import { PHASE_INFO, phaseTotals, type PhaseName } from './phases.js';
import { FIGURE_HEADER, RATIO_HEADER, figureRow, fmt, isMeasured, ratioRow, skippedLines, type BenchDocument, type BenchRecord } from './report.js';

function table(header: string[], rows: string[][], rowClass?: (i: number) => string): string {
  const th = header.map((h) => `<th>${esc(h)}</th>`).join('');
  const trs = rows.map((r, i) => `<tr${rowClass ? ` class="${rowClass(i)}"` : ''}>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${trs}\n</tbody></table>`;
}

function legend(): string {
  return `<ul class="legend">${(Object.keys(PHASE_INFO) as PhaseName[])
    .map((k) => `<li><span class="swatch" style="background:${PHASE_INFO[k].color}"></span><b>${esc(PHASE_INFO[k].label)}</b>: ${esc(PHASE_INFO[k].covers)}</li>`)
    .join('')}</ul>`;
}

/** One cell's section: the chosen run's figures, the time per phase, the chart. */
export function ganttSection(r: BenchRecord): string {
  const run = r.runs.find((x) => x.run === r.ganttRun && x.agentTimelines !== undefined);
  if (!run?.agentTimelines) return '';
  const tls = run.agentTimelines;
  const totals = phaseTotals(tls);
  const rows = (Object.keys(PHASE_INFO) as PhaseName[])
    .filter((k) => totals[k].sumMs > 0)
    .map((k) => [PHASE_INFO[k].label, fmt(totals[k].sumMs / tls.length, 0), fmt(totals[k].maxMs, 0)]);
  const title = `${r.domains} x ${r.keyType}, ${r.mode}: leec run ${run.run} (wall ${fmt(run.wallSeconds, 3)} s, median ${fmt(r.wallSeconds, 3)} s; ${r.agents} agent threads)`;
  return `<section class="cell"><h3>${esc(title)}</h3>
${table(['phase', 'mean ms per agent', 'longest ms'], rows)}
<div class="chart">${renderGantt(tls, { spanMs: Math.max(run.wallSeconds * 1000, 1) })}</div></section>`;
}

export function renderHtml(doc: BenchDocument): string {
  const statusClass = (i: number): string => (doc.targets[i]?.status ?? 'not measured').replace(/ /g, '-');
  const targets = table(
    ['target', 'value', 'limit', 'status', 'detail'],
    doc.targets.map((t) => [t.description, fmt(t.value, 2), `<= ${fmt(t.limit, 2)}`, t.status, t.detail]),
    statusClass,
  );
  const measured = doc.records.filter(isMeasured);
  const figures = table(FIGURE_HEADER, measured.map(figureRow), (i) => (measured[i]?.tool === 'leec' ? 'leec' : ''));
  const skipped = skippedLines(doc.records);
  const ratios = table(RATIO_HEADER, doc.ratios.map(ratioRow));
  const charts = measured.filter((r) => r.tool === 'leec').map(ganttSection).join('\n');
  const pebble = Object.entries(doc.pebble)
    .map(([mode, p]) => `<li>${esc(mode)}: ${esc(Object.entries(p.env).map(([k, v]) => `${k}=${v}`).join(' '))}; ${esc(p.vaSleepLine)}</li>`)
    .join('');
  const leftOut = doc.leftOut.length > 0 ? `<p>Left out of the default matrix (heavy; name <code>--domains</code> and <code>--key-type</code>, or <code>--all</code>): ${esc(doc.leftOut.map((c) => `${c.domains} x ${c.keyType} ${c.mode}`).join(', '))}.</p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leec benchmark ${esc(doc.generatedAt)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ddd;padding:2px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
tr.met td{background:#e8f5e9} tr.not-met td{background:#ffebee} tr.not-measured td{color:#888}
tr.leec td{font-weight:600}
.legend{list-style:none;padding:0} .legend li{margin:2px 0}
.swatch{display:inline-block;width:12px;height:12px;margin-right:6px;vertical-align:middle}
.chart{overflow-x:auto} section.cell{margin-bottom:2em}
</style></head><body>
<h1>leec benchmark</h1>
<p>${esc(doc.generatedAt)}; node ${esc(doc.node)}, ${doc.cpus} CPU(s) (${esc(doc.cpuModel)}), ${esc(doc.platform)}, UV_THREADPOOL_SIZE ${doc.uvThreadpoolSize};
${doc.args.runs} run(s) per tool and cell, medians; load average ${esc(doc.loadAverage.start.map((v) => v.toFixed(2)).join('/'))} at start, ${esc(doc.loadAverage.end.map((v) => v.toFixed(2)).join('/'))} at end; ${doc.totalSeconds.toFixed(0)} s in all.</p>
<h2>Targets</h2>
${targets}
<h2>Figures</h2>
${figures}
${skipped.length > 0 ? `<ul>${skipped.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>` : ''}
<h2>Ratios</h2>
${ratios}
${leftOut}
<h2>Where leec's time goes</h2>
<p>One row per agent (certificate), in call order; x is time after the first call. Phases from the Supervisor's <code>state</code> events (timestamped as they reach the main thread) and the milestones the agent's thread posts.</p>
${legend()}
${charts}
<h2>Notes</h2>
<ul>${doc.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>
<p>Pebble:</p><ul>${pebble}</ul>
</body></html>
`;
}
