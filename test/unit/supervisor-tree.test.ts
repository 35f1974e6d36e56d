/**
 * TreeSupervisor against in-process fake children (their exits are triggered by the test) and a fake clock, so
 * nothing sleeps: restart types, intensity and escalation, strategy ordering, shutdown with kill, backoff, tree().
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AbortedError, InvalidInputError, LeecError } from '../../src/errors.js';
import type { ExitReason, Restart } from '../../src/runtime/restart.js';
import {
  SupervisorIntensityError,
  TreeSupervisor,
  type ChildRef,
  type ChildSpec,
  type SupervisorOptions,
  type TreeEvent,
} from '../../src/runtime/supervisor-tree.js';
import { FakeClock } from '../support/fake-clock.js';

/** A child whose exit the test triggers; `stop()` is logged and honoured unless `ignoreStop`. */
class FakeChild implements ChildRef {
  readonly exited: Promise<ExitReason>;
  #resolve: (r: ExitReason) => void = () => undefined;
  #done = false;

  constructor(
    readonly id: string,
    readonly incarnation: number,
    private readonly log: string[],
    private readonly ignoreStop: boolean,
  ) {
    this.exited = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  exit(reason: ExitReason): void {
    if (this.#done) return;
    this.#done = true;
    this.#resolve(reason);
  }

  crash(message = 'boom'): void {
    this.exit({ kind: 'crash', error: new Error(message) });
  }

  normal(): void {
    this.exit({ kind: 'normal' });
  }

  async stop(_reason: 'shutdown'): Promise<void> {
    this.log.push(`stop:${this.id}`);
    if (!this.ignoreStop) this.exit({ kind: 'shutdown' });
  }
}

interface SpecOpts {
  restart?: Restart;
  shutdownMs?: number | 'infinity';
  ignoreStop?: boolean;
  kill?: boolean;
  /** start() rejects from this incarnation on. */
  failFrom?: number;
}

class Harness {
  readonly log: string[] = [];
  readonly events: TreeEvent[] = [];
  readonly clock = new FakeClock(0);
  readonly current = new Map<string, FakeChild>();

  spec(id: string, o: SpecOpts = {}): ChildSpec {
    const spec: ChildSpec = {
      id,
      start: async ({ incarnation }) => {
        if (o.failFrom !== undefined && incarnation >= o.failFrom) {
          this.log.push(`startfail:${id}#${incarnation}`);
          throw new Error(`${id} cannot start`);
        }
        this.log.push(`start:${id}#${incarnation}`);
        const child = new FakeChild(id, incarnation, this.log, o.ignoreStop ?? false);
        this.current.set(id, child);
        return child;
      },
    };
    if (o.restart) spec.restart = o.restart;
    if (o.shutdownMs !== undefined) spec.shutdownMs = o.shutdownMs;
    if (o.kill) {
      spec.kill = async (ref) => {
        this.log.push(`kill:${id}`);
        (ref as FakeChild).exit({ kind: 'killed' });
      };
    }
    return spec;
  }

  /** A child spec that starts a nested TreeSupervisor. */
  sup(id: string, children: () => ChildSpec[], opts: SupervisorOptions = {}, restart?: Restart): ChildSpec {
    const spec: ChildSpec = {
      id,
      start: async () => {
        const s = await TreeSupervisor.start(id, children(), this.opts(opts));
        this.supervisors.push(s);
        return s;
      },
    };
    if (restart) spec.restart = restart;
    return spec;
  }

  readonly supervisors: TreeSupervisor[] = [];

  opts(extra: SupervisorOptions = {}): SupervisorOptions {
    return { clock: this.clock, onEvent: (e) => this.events.push(e), ...extra };
  }

  child(id: string): FakeChild {
    const c = this.current.get(id);
    assert.ok(c, `no child ${id}`);
    return c;
  }

  types(childId?: string): string[] {
    return this.events.filter((e) => childId === undefined || e.childId === childId).map((e) => `${e.type}:${e.childId}#${e.incarnation}`);
  }
}

/** Lets queued microtasks and immediates run; no real time passes. */
async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

function isIntensity(supervisorId: string) {
  return (r: ExitReason): boolean => {
    assert.equal(r.kind, 'crash');
    const err = r.kind === 'crash' ? r.error : undefined;
    assert.ok(err instanceof SupervisorIntensityError);
    assert.ok(err instanceof LeecError);
    assert.equal(err.code, 'ERR_SUPERVISOR_INTENSITY');
    assert.equal(err.data.supervisorId, supervisorId);
    return true;
  };
}

describe('TreeSupervisor: restart types', () => {
  it('starts children left to right with incarnation 1', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a'), h.spec('b'), h.spec('c')], h.opts());
    assert.deepEqual(h.log, ['start:a#1', 'start:b#1', 'start:c#1']);
    assert.deepEqual(sup.whichChildren(), ['a', 'b', 'c'].map((id) => ({ id, incarnation: 1, restarts: 0, state: 'running' })));
    await sup.stop('shutdown');
  });

  it('transient + normal exit → not restarted, kept as stopped', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a', { restart: 'transient' })], h.opts());
    h.child('a').normal();
    await settle();
    assert.deepEqual(h.log, ['start:a#1']);
    assert.deepEqual(sup.whichChildren(), [{ id: 'a', incarnation: 1, restarts: 0, state: 'stopped' }]);
    assert.deepEqual(h.types(), ['child:started:a#1', 'child:exited:a#1']);
    await sup.stop('shutdown');
  });

  it('transient + shutdown exit → not restarted', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a', { restart: 'transient' })], h.opts());
    h.child('a').exit({ kind: 'shutdown' });
    await settle();
    assert.deepEqual(h.log, ['start:a#1']);
    await sup.stop('shutdown');
  });

  it('transient + crash → restarted with incarnation + 1', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a', { restart: 'transient' })], h.opts());
    h.child('a').crash();
    await settle();
    assert.deepEqual(h.log, ['start:a#1', 'start:a#2']);
    assert.equal(h.child('a').incarnation, 2);
    assert.deepEqual(sup.whichChildren(), [{ id: 'a', incarnation: 2, restarts: 1, state: 'running' }]);
    assert.deepEqual(h.types(), ['child:started:a#1', 'child:exited:a#1', 'child:restarting:a#1', 'child:started:a#2']);
    const exitedEvent = h.events.find((e) => e.type === 'child:exited');
    assert.equal(exitedEvent?.reason?.kind, 'crash');
    await sup.stop('shutdown');
  });

  it('transient + killed → restarted', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a', { restart: 'transient' })], h.opts());
    h.child('a').exit({ kind: 'killed', exitCode: 1 });
    await settle();
    assert.deepEqual(h.log, ['start:a#1', 'start:a#2']);
    await sup.stop('shutdown');
  });

  it('permanent (the default) + normal exit → restarted', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a')], h.opts());
    h.child('a').normal();
    await settle();
    assert.deepEqual(h.log, ['start:a#1', 'start:a#2']);
    assert.equal(sup.whichChildren()[0]?.state, 'running');
    await sup.stop('shutdown');
  });

  it('temporary → never restarted and removed, on crash or normal exit', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a'), h.spec('t1', { restart: 'temporary' }), h.spec('t2', { restart: 'temporary' })], h.opts());
    h.child('t1').crash();
    h.child('t2').normal();
    await settle();
    assert.deepEqual(h.log, ['start:a#1', 'start:t1#1', 'start:t2#1']);
    assert.deepEqual(sup.whichChildren().map((c) => c.id), ['a']);
    await sup.stop('shutdown');
  });
});

describe('TreeSupervisor: intensity and escalation', () => {
  it('exceeding intensity exits crash ERR_SUPERVISOR_INTENSITY; one_for_one siblings untouched until then, then stopped in reverse', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a'), h.spec('b'), h.spec('c')], h.opts({ intensity: 2, periodMs: 5000 }));
    h.child('b').crash();
    await settle();
    h.clock.advance(100);
    h.child('b').crash();
    await settle();
    assert.deepEqual(h.log, ['start:a#1', 'start:b#1', 'start:c#1', 'start:b#2', 'start:b#3']);
    assert.equal(h.child('a').incarnation, 1);
    assert.equal(h.child('c').incarnation, 1);
    h.clock.advance(100);
    h.child('b').crash('third');
    const reason = await sup.exited;
    assert.ok(isIntensity('root')(reason));
    assert.equal(reason.kind, 'crash');
    const err = reason.kind === 'crash' ? reason.error : undefined;
    assert.ok(err instanceof SupervisorIntensityError);
    assert.deepEqual(err.data, { supervisorId: 'root', restarts: 3, periodMs: 5000 });
    assert.equal((err.cause as Error).message, 'third');
    assert.deepEqual(h.log.slice(5), ['stop:c', 'stop:a']);
    assert.ok(h.events.some((e) => e.type === 'supervisor:intensity' && e.childId === 'b' && e.supervisorId === 'root'));
    assert.deepEqual(sup.whichChildren().map((c) => c.state), ['stopped', 'stopped', 'stopped']);
    await sup.stop('shutdown'); // already exited: resolves at once
  });

  it("OTP's default (1 restart per 5 s): the second crash within 5 s gives up", async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a')], h.opts());
    h.child('a').crash();
    await settle();
    h.clock.advance(4999);
    h.child('a').crash();
    assert.ok(isIntensity('root')(await sup.exited));
    assert.deepEqual(h.log, ['start:a#1', 'start:a#2']);
  });

  it('crashes spaced wider than the period never exceed', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a')], h.opts());
    for (let i = 0; i < 4; i++) {
      h.clock.advance(5001);
      h.child('a').crash();
      await settle();
    }
    assert.deepEqual(sup.whichChildren(), [{ id: 'a', incarnation: 5, restarts: 4, state: 'running' }]);
    await sup.stop('shutdown');
  });

  it('a failed restart is retried and counted (try_again_restart) until intensity gives up', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a', { failFrom: 2 })], h.opts({ intensity: 2 }));
    h.child('a').crash();
    assert.ok(isIntensity('root')(await sup.exited));
    assert.deepEqual(h.log, ['start:a#1', 'startfail:a#2', 'startfail:a#3']);
  });

  it('nested: a child supervisor exceeding its intensity is restarted by its parent', async () => {
    const h = new Harness();
    const root = await TreeSupervisor.start('root', [h.spec('x'), h.sup('inner', () => [h.spec('w')], { intensity: 1 })], h.opts({ intensity: 5 }));
    const inner1 = h.supervisors[0];
    assert.ok(inner1);
    h.child('w').crash();
    await settle();
    h.child('w').crash();
    assert.ok(isIntensity('inner')(await inner1.exited));
    await settle();
    assert.deepEqual(h.log, ['start:x#1', 'start:w#1', 'start:w#2', 'start:w#1']);
    assert.equal(h.supervisors.length, 2);
    assert.deepEqual(root.whichChildren(), [
      { id: 'x', incarnation: 1, restarts: 0, state: 'running' },
      { id: 'inner', incarnation: 2, restarts: 1, state: 'running' },
    ]);
    assert.ok(h.events.some((e) => e.type === 'supervisor:intensity' && e.supervisorId === 'inner'));
    assert.ok(h.events.some((e) => e.type === 'child:exited' && e.supervisorId === 'root' && e.childId === 'inner' && e.reason?.kind === 'crash'));
    await root.stop('shutdown');
    assert.deepEqual(h.log.slice(4), ['stop:w', 'stop:x']);
  });

  it('nested: a parent with intensity 0 exits in turn (escalation to the top)', async () => {
    const h = new Harness();
    const root = await TreeSupervisor.start('root', [h.spec('x'), h.sup('inner', () => [h.spec('w')], { intensity: 0 })], h.opts({ intensity: 0 }));
    h.child('w').crash();
    const reason = await root.exited;
    assert.ok(isIntensity('root')(reason));
    const cause = reason.kind === 'crash' ? reason.error.cause : undefined;
    assert.ok(cause instanceof SupervisorIntensityError);
    assert.equal(cause.data.supervisorId, 'inner');
    assert.deepEqual(h.log, ['start:x#1', 'start:w#1', 'stop:x']);
  });
});

describe('TreeSupervisor: strategies', () => {
  it('one_for_all: stops the others in reverse, drops temporary ones, restarts all in start order', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start(
      'root',
      [h.spec('a'), h.spec('b'), h.spec('t', { restart: 'temporary' }), h.spec('c')],
      h.opts({ strategy: 'one_for_all' }),
    );
    h.log.length = 0;
    h.child('b').crash();
    await settle();
    assert.deepEqual(h.log, ['stop:c', 'stop:t', 'stop:a', 'start:a#2', 'start:b#2', 'start:c#2']);
    assert.deepEqual(sup.whichChildren(), [
      { id: 'a', incarnation: 2, restarts: 1, state: 'running' },
      { id: 'b', incarnation: 2, restarts: 1, state: 'running' },
      { id: 'c', incarnation: 2, restarts: 1, state: 'running' },
    ]);
    await sup.stop('shutdown');
  });

  it('rest_for_one: stops those started after it in reverse, restarts it and them in order', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a'), h.spec('b'), h.spec('c'), h.spec('d')], h.opts({ strategy: 'rest_for_one' }));
    h.log.length = 0;
    h.child('b').crash();
    await settle();
    assert.deepEqual(h.log, ['stop:d', 'stop:c', 'start:b#2', 'start:c#2', 'start:d#2']);
    assert.deepEqual(sup.whichChildren().map((c) => `${c.id}#${c.incarnation}`), ['a#1', 'b#2', 'c#2', 'd#2']);
    await sup.stop('shutdown');
  });

  it('rest_for_one: the last child restarts alone', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a'), h.spec('b')], h.opts({ strategy: 'rest_for_one' }));
    h.log.length = 0;
    h.child('b').crash();
    await settle();
    assert.deepEqual(h.log, ['start:b#2']);
    await sup.stop('shutdown');
  });
});

describe('TreeSupervisor: lifecycle', () => {
  it('shutdown stops children (dynamic ones included) in reverse start order, then exits shutdown', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a'), h.spec('b'), h.spec('c')], h.opts());
    await sup.startChild(h.spec('d'));
    h.log.length = 0;
    await sup.stop('shutdown');
    assert.deepEqual(h.log, ['stop:d', 'stop:c', 'stop:b', 'stop:a']);
    assert.deepEqual(await sup.exited, { kind: 'shutdown' });
    assert.deepEqual(sup.whichChildren().map((c) => c.state), ['stopped', 'stopped', 'stopped', 'stopped']);
    await assert.rejects(sup.startChild(h.spec('e')), (e: unknown) => e instanceof AbortedError && e.code === 'ERR_ABORTED');
    await sup.stop('shutdown');
  });

  it('shutdown kills a child that ignores stop after its shutdownMs, before going on', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a'), h.spec('b', { ignoreStop: true, shutdownMs: 1000, kill: true }), h.spec('c')], h.opts());
    h.log.length = 0;
    let stopped = false;
    const stopping = sup.stop('shutdown').then(() => {
      stopped = true;
    });
    await settle();
    assert.deepEqual(h.log, ['stop:c', 'stop:b']);
    assert.deepEqual(h.clock.pending(), [1000]);
    h.clock.advance(999);
    await settle();
    assert.deepEqual(h.log, ['stop:c', 'stop:b']);
    assert.equal(stopped, false);
    h.clock.advance(1);
    await stopping;
    assert.deepEqual(h.log, ['stop:c', 'stop:b', 'kill:b', 'stop:a']);
    const bExit = h.events.find((e) => e.type === 'child:exited' && e.childId === 'b');
    assert.deepEqual(bExit?.reason, { kind: 'killed' });
  });

  it('a child that exits while the supervisor shuts down is not restarted', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a'), h.spec('b', { ignoreStop: true, shutdownMs: 1000, kill: true })], h.opts());
    const stopping = sup.stop('shutdown');
    await settle();
    h.child('a').crash();
    await settle();
    h.clock.advance(1000);
    await stopping;
    assert.ok(!h.log.includes('start:a#2'), h.log.join(','));
    assert.deepEqual(await sup.exited, { kind: 'shutdown' });
  });

  it('a failing child start stops the started ones in reverse and rejects with its error', async () => {
    const h = new Harness();
    await assert.rejects(
      TreeSupervisor.start('root', [h.spec('a'), h.spec('z'), h.spec('b', { failFrom: 1 }), h.spec('c')], h.opts()),
      /b cannot start/,
    );
    assert.deepEqual(h.log, ['start:a#1', 'start:z#1', 'startfail:b#1', 'stop:z', 'stop:a']);
  });

  it('duplicate child ids are rejected', async () => {
    const h = new Harness();
    await assert.rejects(TreeSupervisor.start('root', [h.spec('a'), h.spec('a')], h.opts()), InvalidInputError);
    assert.deepEqual(h.log, []);
    const sup = await TreeSupervisor.start('root', [h.spec('a')], h.opts());
    await assert.rejects(sup.startChild(h.spec('a')), InvalidInputError);
    await sup.stop('shutdown');
  });

  it('startChild appends and supervises; terminateChild stops without restart and removes', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a')], h.opts());
    const ref = await sup.startChild(h.spec('d', { restart: 'transient' }));
    assert.equal(ref.id, 'd');
    h.child('d').crash();
    await settle();
    assert.deepEqual(h.log, ['start:a#1', 'start:d#1', 'start:d#2']);
    await sup.terminateChild('d');
    await settle();
    assert.deepEqual(h.log, ['start:a#1', 'start:d#1', 'start:d#2', 'stop:d']);
    assert.deepEqual(sup.whichChildren().map((c) => c.id), ['a']);
    await sup.terminateChild('nope');
    await sup.stop('shutdown');
  });

  it('a startChild whose start fails rejects and adds nothing', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a')], h.opts());
    await assert.rejects(sup.startChild(h.spec('d', { failFrom: 1 })), /d cannot start/);
    assert.deepEqual(sup.whichChildren().map((c) => c.id), ['a']);
    await sup.stop('shutdown');
  });
});

describe('TreeSupervisor: backoff', () => {
  const backoff = { minMs: 1000, maxMs: 8000, factor: 2, random: () => 0.5 };

  it('delays each restart through the clock, growing while the child keeps crashing', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a')], h.opts({ intensity: 10, periodMs: 60_000, backoff }));
    h.child('a').crash();
    await settle();
    assert.deepEqual(sup.whichChildren(), [{ id: 'a', incarnation: 1, restarts: 0, state: 'restarting' }]);
    assert.equal(h.events.find((e) => e.type === 'child:restarting')?.delayMs, 1000);
    assert.deepEqual(h.clock.pending(), [1000]);
    h.clock.advance(999);
    await settle();
    assert.deepEqual(h.log, ['start:a#1']);
    h.clock.advance(1);
    await settle();
    assert.deepEqual(h.log, ['start:a#1', 'start:a#2']);

    h.child('a').crash(); // attempt 1: [1000, 2000) at 0.5 → 1500
    await settle();
    assert.deepEqual(h.clock.pending(), [1500]);
    h.clock.advance(1499);
    await settle();
    assert.equal(h.log.length, 2);
    h.clock.advance(1);
    await settle();
    assert.deepEqual(h.log.slice(2), ['start:a#3']);

    h.child('a').crash(); // attempt 2: [1000, 4000) → 2500
    await settle();
    assert.deepEqual(h.clock.pending(), [2500]);
    h.clock.advance(2500);
    await settle();
    assert.deepEqual(h.log.slice(3), ['start:a#4']);

    h.clock.advance(60_000); // a full period up: the backoff starts over
    h.child('a').crash();
    await settle();
    assert.deepEqual(h.clock.pending(), [1000]);
    await sup.stop('shutdown');
  });

  it('shutdown cancels a pending restart', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a'), h.spec('b')], h.opts({ backoff }));
    h.child('a').crash();
    await settle();
    assert.deepEqual(h.clock.pending(), [1000]);
    await sup.stop('shutdown');
    assert.deepEqual(h.clock.pending(), []);
    h.clock.advance(5000);
    await settle();
    assert.deepEqual(h.log, ['start:a#1', 'start:b#1', 'stop:b']);
    assert.deepEqual(await sup.exited, { kind: 'shutdown' });
  });

  it('one_for_all waits out the delay once for the whole group', async () => {
    const h = new Harness();
    const sup = await TreeSupervisor.start('root', [h.spec('a'), h.spec('b')], h.opts({ strategy: 'one_for_all', backoff }));
    h.log.length = 0;
    h.child('a').crash();
    await settle();
    assert.deepEqual(h.log, ['stop:b']);
    assert.deepEqual(sup.whichChildren().map((c) => c.state), ['restarting', 'restarting']);
    h.clock.advance(1000);
    await settle();
    assert.deepEqual(h.log, ['stop:b', 'start:a#2', 'start:b#2']);
    await sup.stop('shutdown');
  });
});

describe('TreeSupervisor: tree()', () => {
  it('shows workers and nested supervisors recursively', async () => {
    const h = new Harness();
    const root = await TreeSupervisor.start('root', [h.spec('w1'), h.sup('inner', () => [h.spec('w2')]), h.spec('w3', { restart: 'transient' })], h.opts());
    h.child('w1').crash();
    h.child('w3').normal();
    await settle();
    const worker = (id: string, incarnation: number, restarts: number, state: string) => ({ id, kind: 'worker', state, incarnation, restarts });
    assert.deepEqual(root.tree(), {
      id: 'root',
      kind: 'supervisor',
      state: 'running',
      incarnation: 1,
      restarts: 0,
      children: [
        worker('w1', 2, 1, 'running'),
        { id: 'inner', kind: 'supervisor', state: 'running', incarnation: 1, restarts: 0, children: [worker('w2', 1, 0, 'running')] },
        worker('w3', 1, 0, 'stopped'),
      ],
    });
    await root.stop('shutdown');
    const after = root.tree();
    assert.equal(after.state, 'stopped');
    assert.deepEqual(after.children?.[1], { id: 'inner', kind: 'supervisor', state: 'stopped', incarnation: 1, restarts: 0, children: [] });
  });
});
