/**
 * A plain-text table for terminal output: a header row, a rule, then the rows, columns padded to
 * their widest cell. No colours and no wrapping, so it reads the same in a TTY, a pipe or a log file.
 */

/** One column of a table. */
export interface Column {
  header: string;
  /** Default `left`; numbers read better `right`. */
  align?: 'left' | 'right';
}

/**
 * Renders `rows` under `columns` as lines (without newlines). Missing cells are empty; columns are
 * separated by two spaces and trailing spaces are trimmed.
 *
 * @example renderTable([{ header: 'NAME' }, { header: 'TIME', align: 'right' }], [['a.test', '0.71s']])
 */
export function renderTable(columns: readonly Column[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        const w = widths[i] ?? 0;
        return c.align === 'right' ? cell.padStart(w) : cell.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}
