/**
 * The `exec` dns-01 provider (src/dns/exec.ts) with real shell scripts written at test time: exact
 * arguments and environment, no shell between leec and the command, typed errors for a failing, a
 * hanging and a missing command, and the timeout killing the script's whole process group.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createExecProvider, execFromOptions, STDERR_TAIL_CHARS } from '../../src/dns/exec.js';
import type { Dns01Record } from '../../src/dns/provider.js';
import { DnsError, ErrorCode, InvalidInputError } from '../../src/errors.js';
import { caught } from '../support/caught.js';

const dir = mkdtempSync(join(tmpdir(), 'leec-dns-exec-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Writes an executable /bin/sh script and returns its path. */
function script(body: string, mode = 0o755): string {
  const file = join(dir, `hook-${++n}.sh`);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, mode);
  return file;
}

const apex: Dns01Record = { domain: 'example.test', fqdn: '_acme-challenge.example.test.', value: 'LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0' };

/** Whether `pid` still runs. A zombie (dead, not yet reaped: PID 1 of a container may never reap) counts as gone. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ESRCH');
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc: kill(0) said it exists
  }
}

/** A script that appends its arguments and the LEEC_DNS_* variables to $LOG, one line each. */
const RECORDER = [
  'printf "args %s|%s|%s|%s\\n" "$#" "$1" "$2" "$3" >> "$LOG"',
  'printf "env %s|%s|%s|%s|%s\\n" "$LEEC_DNS_ACTION" "$LEEC_DNS_FQDN" "$LEEC_DNS_VALUE" "$LEEC_DNS_DOMAIN" "$EXTRA" >> "$LOG"',
].join('\n');

describe('exec provider', () => {
  it('runs `command present|cleanup <fqdn> <value>` with the LEEC_DNS_* variables and the extra env', async () => {
    const log = join(dir, 'calls-1.log');
    const p = createExecProvider({ command: script(RECORDER), env: { LOG: log, EXTRA: 'extra-value' } });
    assert.equal(p.name, 'exec');
    await p.present(apex);
    const wildcard: Dns01Record = { ...apex, value: 'second-value_for-the-wildcard' };
    await p.present(wildcard);
    await p.cleanup(apex);
    assert.equal(
      readFileSync(log, 'utf8'),
      [
        `args 3|present|_acme-challenge.example.test.|${apex.value}`,
        `env present|_acme-challenge.example.test.|${apex.value}|example.test|extra-value`,
        'args 3|present|_acme-challenge.example.test.|second-value_for-the-wildcard',
        'env present|_acme-challenge.example.test.|second-value_for-the-wildcard|example.test|extra-value',
        `args 3|cleanup|_acme-challenge.example.test.|${apex.value}`,
        `env cleanup|_acme-challenge.example.test.|${apex.value}|example.test|extra-value`,
        '',
      ].join('\n'),
    );
  });

  it('passes the arguments without a shell: metacharacters arrive literally and run nothing', async () => {
    const log = join(dir, 'calls-2.log');
    const marker = join(dir, 'pwned');
    const p = createExecProvider({ command: script(RECORDER), env: { LOG: log } });
    const nasty = `a b;touch ${marker} $(touch ${marker}) \`touch ${marker}\``;
    await p.present({ domain: 'example.test', fqdn: '_acme-challenge.example.test.', value: nasty });
    assert.equal(readFileSync(log, 'utf8').split('\n')[0], `args 3|present|_acme-challenge.example.test.|${nasty}`);
    assert.equal(existsSync(marker), false);
  });

  it('a non-zero exit is a DnsError with the exit code and the end of stderr', async () => {
    const p = createExecProvider({ command: script('echo "zone example.test: update refused" >&2\nexit 3') });
    const err = await caught(p.present(apex), DnsError);
    assert.equal(err.code, ErrorCode.dnsProvider);
    assert.equal(err.step, 'dns');
    assert.equal(err.data.exitCode, 3);
    assert.equal(err.data.signal, null);
    assert.equal(err.data.timedOut, false);
    assert.equal(err.data.action, 'present');
    assert.equal(err.data.fqdn, '_acme-challenge.example.test.');
    assert.equal(err.data.stderr, 'zone example.test: update refused\n');
    assert.match(err.message, /present _acme-challenge\.example\.test\. exited with status 3/);
  });

  it('keeps only the last STDERR_TAIL_CHARS characters of stderr', async () => {
    // 3000 x's then END on stderr, exit 1
    const p = createExecProvider({ command: script('i=0; while [ $i -lt 30 ]; do printf "%0100d" 0 | tr 0 x >&2; i=$((i+1)); done; printf END >&2; exit 1') });
    const err = await caught(p.cleanup(apex), DnsError);
    assert.equal(err.data.exitCode, 1);
    assert.equal(STDERR_TAIL_CHARS, 500);
    assert.equal(err.data.stderr, `${'x'.repeat(497)}END`);
  });

  it('a hanging command is killed at the timeout, with its children, and is a typed DnsError', async () => {
    const pidFile = join(dir, 'sleep.pid');
    const p = createExecProvider({ command: script(`sleep 30 &\necho $! > "${pidFile}"\nwait`), timeoutMs: 300 });
    const t0 = Date.now();
    const err = await caught(p.present(apex), DnsError);
    const elapsed = Date.now() - t0;
    assert.equal(err.code, ErrorCode.dnsProvider);
    assert.equal(err.data.timedOut, true);
    assert.equal(err.data.exitCode, null);
    assert.equal(err.data.signal, 'SIGTERM');
    assert.match(err.message, /timed out after 300 ms and was killed/);
    assert.ok(elapsed >= 300 && elapsed < 10_000, `took ${elapsed} ms`); // not the 30 s of the sleep
    const sleepPid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(sleepPid > 0);
    // the script's own child (the sleep holding the pipes) is gone too
    for (let i = 0; i < 50 && isAlive(sleepPid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(isAlive(sleepPid), false);
  });

  it('a command that ignores SIGTERM gets SIGKILL after the grace period', async () => {
    const p = createExecProvider({ command: script("trap '' TERM\nwhile :; do sleep 1; done"), timeoutMs: 200 });
    const t0 = Date.now();
    const err = await caught(p.present(apex), DnsError);
    assert.equal(err.data.timedOut, true);
    assert.equal(err.data.signal, 'SIGKILL');
    assert.ok(Date.now() - t0 < 5_000);
  });

  it('a command removed after creation is a DnsError with the spawn error', async () => {
    const command = script('exit 0');
    const p = createExecProvider({ command });
    rmSync(command);
    const err = await caught(p.present(apex), DnsError);
    assert.equal(err.code, ErrorCode.dnsProvider);
    assert.equal(err.data.cause, 'ENOENT');
    assert.equal(err.data.exitCode, null);
    assert.match(err.message, /could not start \(ENOENT\)/);
  });

  it('refuses a missing, non-executable or non-file command when created, before running anything', () => {
    const check = (command: string, re: RegExp): void => {
      assert.throws(
        () => createExecProvider({ command }),
        (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidOption && e.step === 'input' && e.data.option === 'command' && re.test(e.message),
      );
    };
    check(join(dir, 'no-such-hook'), /does not exist/);
    const marker = join(dir, 'ran-anyway');
    check(script(`touch "${marker}"`, 0o644), /is not executable/);
    const sub = join(dir, 'a-directory');
    mkdirSync(sub);
    check(sub, /is not a regular file/);
    check('', /must be the path of an executable/);
    assert.equal(existsSync(marker), false);
  });

  it('refuses bad timeoutMs and env values', () => {
    const command = script('exit 0');
    for (const timeoutMs of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => createExecProvider({ command, timeoutMs }), (e: unknown) => e instanceof InvalidInputError && e.data.option === 'timeoutMs');
    }
    assert.throws(() => createExecProvider({ command, env: { 'BAD-NAME': 'x' } }), (e: unknown) => e instanceof InvalidInputError && e.data.option === 'env');
  });

  it('execFromOptions: command, timeoutMs and env.NAME; unknown or missing keys are typed errors', async () => {
    const log = join(dir, 'calls-3.log');
    const p = execFromOptions({ command: script(RECORDER), timeoutMs: '5000', 'env.LOG': log, 'env.EXTRA': 'from-cli' });
    await p.cleanup(apex);
    assert.equal(
      readFileSync(log, 'utf8'),
      `args 3|cleanup|_acme-challenge.example.test.|${apex.value}\nenv cleanup|_acme-challenge.example.test.|${apex.value}|example.test|from-cli\n`,
    );
    const invalid = (raw: Record<string, string>, option: string): void => {
      assert.throws(() => execFromOptions(raw), (e: unknown) => e instanceof InvalidInputError && e.code === ErrorCode.invalidOption && e.data.option === option);
    };
    invalid({ command: script('exit 0'), timeout: '5' }, 'timeout');
    invalid({ timeoutMs: '5' }, 'command');
    invalid({ command: script('exit 0'), timeoutMs: '5s' }, 'timeoutMs');
  });
});
