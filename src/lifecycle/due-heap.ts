/**
 * The renewal scheduler's schedule: a binary min-heap of (domain, due time) slots ordered by time, then
 * insertion order. Each slot knows its index, so a domain is unscheduled in O(log n).
 */

export interface Slot {
  domain: string;
  at: number;
  seq: number;
  index: number;
}

/** A binary min-heap of slots by (at, seq), each slot knowing its index so it can be removed in O(log n). */
export class DueHeap {
  readonly #a: Slot[] = [];

  peek(): Slot | undefined {
    return this.#a[0];
  }

  push(s: Slot): void {
    s.index = this.#a.length;
    this.#a.push(s);
    this.#up(s.index);
  }

  remove(s: Slot): void {
    const i = s.index;
    if (i < 0 || this.#a[i] !== s) return;
    const last = this.#a.pop()!;
    s.index = -1;
    if (i === this.#a.length) return;
    this.#a[i] = last;
    last.index = i;
    this.#down(i);
    this.#up(last.index);
  }

  clear(): void {
    for (const s of this.#a) s.index = -1;
    this.#a.length = 0;
  }

  #less(x: Slot, y: Slot): boolean {
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }

  #up(i: number): void {
    const a = this.#a;
    const s = a[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ps = a[p]!;
      if (!this.#less(s, ps)) break;
      a[i] = ps;
      ps.index = i;
      i = p;
    }
    a[i] = s;
    s.index = i;
  }

  #down(i: number): void {
    const a = this.#a;
    const n = a.length;
    const s = a[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.#less(a[r]!, a[l]!) ? r : l;
      const cs = a[c]!;
      if (!this.#less(cs, s)) break;
      a[i] = cs;
      cs.index = i;
      i = c;
    }
    a[i] = s;
    s.index = i;
  }
}
