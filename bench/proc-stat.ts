/**
 * Linux /proc readings for the processes the bench does not run in its own process: Pebble (server CPU)
 * and lego/certbot (client CPU and RSS). Parsing is pure and tested; a missing /proc gives NaN, never a
 * throw, so the bench still runs elsewhere with those columns empty.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** Clock ticks (fields 14-17 of proc(5) stat). */
  utime: number;
  stime: number;
  /** Children's CPU, counted once each child has been waited for. */
  cutime: number;
  cstime: number;
}

/** Parses one /proc/<pid>/stat line. The command name may hold spaces and parentheses: it ends at the last ')'. */
export function parseProcStat(line: string): ProcStat {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc stat line: ${JSON.stringify(line.slice(0, 80))}`);
  const rest = line.slice(close + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state); field n is rest[n - 3].
  const field = (n: number): number => Number(rest[n - 3]);
  return {
    pid: Number(line.slice(0, open).trim()),
    comm: line.slice(open + 1, close),
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
  };
}

/** Clock ticks per second (getconf CLK_TCK; 100 on every common Linux). */
export function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

export function readProcStat(pid: number | 'self'): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The live processes whose parent is `ppid` (a scan of /proc). */
export function childrenOf(ppid: number): ProcStat[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcStat[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const s = readProcStat(Number(e));
    if (s && s.ppid === ppid) out.push(s);
  }
  return out;
}

/** Resident set size of `pid` in bytes (VmRSS of /proc/<pid>/status), 0 when gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system) of one process, NaN when it cannot be read. */
export function processCpuSeconds(pid: number, ticks: number): number {
  const s = readProcStat(pid);
  return s ? (s.utime + s.stime) / ticks : Number.NaN;
}

/** CPU seconds of this process's children that have exited and been waited for (lego, certbot). */
export function reapedChildrenCpuSeconds(ticks: number): number {
  const s = readProcStat('self');
  return s ? (s.cutime + s.cstime) / ticks : Number.NaN;
}
