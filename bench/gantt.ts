/**
 * The Gantt chart of one leec run: one row per agent, one bar per phase (bench/phases.ts), x in ms after
 * the cell's first call, as an inline SVG (no script, no external asset). The bar geometry is computed
 * by `ganttBars` (pure, tested); `renderGantt` only writes it out.
 */
import { agentPhases, PHASE_INFO, type AgentTimeline, type PhaseName } from './phases.js';

export interface GanttLayout {
  /** Whole SVG width, px. */
  width: number;
  /** Left column for the agents' labels, px. */
  labelWidth: number;
  /** Row height, px (default: fits 200 agents in about 1000 px, between 4 and 18). */
  rowHeight: number;
  /** The time the plot width stands for, ms (default: the latest phase end). */
  spanMs: number;
}

export interface GanttBar {
  row: number;
  domain: string;
  phase: PhaseName;
  startMs: number;
  endMs: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

const AXIS_HEIGHT = 24;

export function ganttLayout(timelines: readonly AgentTimeline[], partial: Partial<GanttLayout> = {}): GanttLayout {
  const ends = timelines.flatMap((t) => agentPhases(t).map((p) => p.end));
  return {
    width: partial.width ?? 1000,
    labelWidth: partial.labelWidth ?? 60,
    rowHeight: partial.rowHeight ?? Math.max(4, Math.min(18, Math.floor(1000 / Math.max(1, timelines.length)))),
    spanMs: partial.spanMs ?? Math.max(1, ...ends),
  };
}

/** Every bar of the chart: sequential phases fill the row; keygen is a thin bar along its bottom. */
export function ganttBars(timelines: readonly AgentTimeline[], layout: GanttLayout): GanttBar[] {
  const plot = layout.width - layout.labelWidth;
  const scale = plot / layout.spanMs;
  const bars: GanttBar[] = [];
  timelines.forEach((tl, row) => {
    const top = row * layout.rowHeight;
    for (const p of agentPhases(tl)) {
      const keygen = p.name === 'keygen';
      const h = keygen ? Math.max(1, layout.rowHeight / 3) : Math.max(1, layout.rowHeight - 1);
      bars.push({
        row,
        domain: tl.domain,
        phase: p.name,
        startMs: p.start,
        endMs: p.end,
        x: layout.labelWidth + p.start * scale,
        y: keygen ? top + layout.rowHeight - 1 - h : top,
        width: (p.end - p.start) * scale,
        height: h,
      });
    }
  });
  return bars;
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A round tick step (1, 2 or 5 x 10^k ms) giving about 10 ticks over the span. */
export function tickStepMs(spanMs: number): number {
  const raw = spanMs / 10;
  const pow = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  return [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
}

const n2 = (v: number): string => (Math.round(v * 100) / 100).toString();

export function renderGantt(timelines: readonly AgentTimeline[], partial: Partial<GanttLayout> = {}): string {
  const layout = ganttLayout(timelines, partial);
  const bars = ganttBars(timelines, layout);
  const chartHeight = timelines.length * layout.rowHeight;
  const height = chartHeight + AXIS_HEIGHT;
  const plot = layout.width - layout.labelWidth;
  const step = tickStepMs(layout.spanMs);
  const ticks: string[] = [];
  for (let t = 0; t <= layout.spanMs + 1e-9; t += step) {
    const x = n2(layout.labelWidth + (t / layout.spanMs) * plot);
    ticks.push(`<line class="grid" x1="${x}" y1="0" x2="${x}" y2="${chartHeight}" stroke="#e6e6e6"/><text class="tick" x="${x}" y="${chartHeight + 14}" font-size="10" text-anchor="middle">${n2(t / 1000)} s</text>`);
  }
  const rows = timelines.map((tl, row) => {
    const label = layout.rowHeight >= 9 ? `<text x="${layout.labelWidth - 4}" y="${n2(row * layout.rowHeight + layout.rowHeight * 0.75)}" font-size="${Math.min(11, layout.rowHeight - 1)}" text-anchor="end">${row}</text>` : '';
    const rects = bars
      .filter((b) => b.row === row)
      .map((b) => `<rect class="bar" data-phase="${b.phase}" x="${n2(b.x)}" y="${n2(b.y)}" width="${n2(b.width)}" height="${n2(b.height)}" fill="${PHASE_INFO[b.phase].color}"><title>${escapeXml(tl.domain)}: ${PHASE_INFO[b.phase].label} ${Math.round(b.startMs)}-${Math.round(b.endMs)} ms (${Math.round(b.endMs - b.startMs)} ms)</title></rect>`)
      .join('');
    return `<g class="agent" data-domain="${escapeXml(tl.domain)}"${tl.threadId !== undefined ? ` data-thread="${tl.threadId}"` : ''}>${label}${rects}</g>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="${layout.width}" height="${height}" viewBox="0 0 ${layout.width} ${height}" data-span-ms="${n2(layout.spanMs)}">${ticks.join('')}${rows.join('')}</svg>`;
}
