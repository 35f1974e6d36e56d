/**
 * Live per-domain progress of a batch of certificate jobs, from the supervisor's events. On a TTY it
 * draws one cli-progress bar per domain (LEEC state as steps 0..4, elapsed time); elsewhere (pipes,
 * CI logs, or more domains than the terminal has rows) it prints one line per state change.
 */
import cliProgress from 'cli-progress';
import type { AgentState } from '../acme/flow.js';
import { firstLine, seconds, stamp } from './format.js';

/** What a progress view is told. */
export interface ProgressView {
  /** The agent of `domain` entered `state`. */
  state(domain: string, state: AgentState): void;
  /** The agent of `domain` died and runs again as `incarnation`. */
  restarted(domain: string, incarnation: number, code: string): void;
  /** The job of `domain` failed for good. */
  failed(domain: string, code: string, message: string): void;
  /** A line that belongs to no domain (printed above the bars on a TTY). */
  log(line: string): void;
  /** Stops drawing; the final state stays on screen. Idempotent. */
  stop(): void;
}

/** Options of {@link createProgressView}. */
export interface ProgressViewOptions {
  /** Where to draw (stdout). */
  stream: NodeJS.WriteStream;
  /** The time elapsed times count from (`Date.now()` value). */
  startedAt: number;
  /** Bars or lines; default: bars when `stream.isTTY` and every domain fits on screen. */
  mode?: 'bars' | 'lines';
}

/** The LEEC states as bar steps: idle 0 → pending 1 → valid 2 → finalize 3 → done 4. */
const STEP: Readonly<Record<AgentState, number | undefined>> = Object.freeze({
  idle: 0,
  pending: 1,
  valid: 2,
  finalize: 3,
  done: 4,
  invalid: undefined,
});
const STEPS = 4;

/** Chooses bars or lines and returns the view. */
export function createProgressView(domains: readonly string[], opts: ProgressViewOptions): ProgressView {
  const fits = domains.length + 4 <= (opts.stream.rows ?? 24);
  const mode = opts.mode ?? (opts.stream.isTTY === true && fits ? 'bars' : 'lines');
  return mode === 'bars' ? new BarsView(domains, opts) : new LinesView(domains, opts);
}

/** One line per event: `[  1.23s] shop.example.test  pending`. */
class LinesView implements ProgressView {
  readonly #width: number;
  readonly #opts: ProgressViewOptions;

  constructor(domains: readonly string[], opts: ProgressViewOptions) {
    this.#width = Math.max(0, ...domains.map((d) => d.length));
    this.#opts = opts;
  }

  #line(domain: string, text: string): void {
    this.#opts.stream.write(`${stamp(Date.now() - this.#opts.startedAt)} ${domain.padEnd(this.#width)}  ${text}\n`);
  }

  state(domain: string, state: AgentState): void {
    this.#line(domain, state);
  }

  restarted(domain: string, incarnation: number, code: string): void {
    this.#line(domain, `agent died (${code}), restarted as incarnation ${incarnation}`);
  }

  failed(domain: string, code: string, message: string): void {
    this.#line(domain, `failed ${code}: ${firstLine(message)}`);
  }

  log(line: string): void {
    this.#opts.stream.write(`${line}\n`);
  }

  stop(): void {}
}

interface BarPayload {
  domain: string;
  label: string;
  /** Date.now() when the job ended, freezing its elapsed time. */
  endedAt: number | undefined;
}

/** One cli-progress bar per domain. */
class BarsView implements ProgressView {
  readonly #multi: cliProgress.MultiBar;
  readonly #bars = new Map<string, { bar: cliProgress.SingleBar; payload: BarPayload; step: number }>();
  readonly #stream: NodeJS.WriteStream;
  #stopped = false;

  constructor(domains: readonly string[], opts: ProgressViewOptions) {
    this.#stream = opts.stream;
    const width = Math.max(0, ...domains.map((d) => d.length));
    const format: cliProgress.GenericFormatter = (options, params, payload: BarPayload) => {
      const elapsed = (payload.endedAt ?? Date.now()) - opts.startedAt;
      const bar = cliProgress.Format.BarFormat(params.progress, options);
      return `${payload.domain.padEnd(width)}  ${bar} ${params.value}/${STEPS}  ${payload.label.padEnd(10)} ${seconds(elapsed).padStart(6)}s`;
    };
    this.#multi = new cliProgress.MultiBar({
      stream: opts.stream,
      format,
      barsize: 20,
      barCompleteChar: '\u2588',
      barIncompleteChar: '\u2591',
      hideCursor: true,
      clearOnComplete: false,
      // Signals are handled by the command (RunScope), which stops this view.
      gracefulExit: false,
      fps: 10,
    });
    for (const domain of domains) {
      const payload: BarPayload = { domain, label: 'queued', endedAt: undefined };
      this.#bars.set(domain, { bar: this.#multi.create(STEPS, 0, payload), payload, step: 0 });
    }
  }

  #update(domain: string, label: string, step: number | undefined, ended: boolean): void {
    const b = this.#bars.get(domain);
    if (b === undefined || this.#stopped) return;
    if (step !== undefined) b.step = step;
    b.payload.label = label;
    if (ended) b.payload.endedAt = Date.now();
    b.bar.update(b.step, b.payload);
  }

  state(domain: string, state: AgentState): void {
    this.#update(domain, state, STEP[state], state === 'done' || state === 'invalid');
  }

  restarted(domain: string, incarnation: number): void {
    this.#update(domain, `restart ${incarnation}`, 0, false);
  }

  failed(domain: string, code: string, message: string): void {
    this.#update(domain, 'failed', undefined, true);
    this.log(`${domain}: ${code}: ${firstLine(message)}`);
  }

  log(line: string): void {
    if (this.#stopped) this.#stream.write(`${line}\n`);
    else this.#multi.log(`${line}\n`);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#multi.stop();
  }
}
