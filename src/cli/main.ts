#!/usr/bin/env node
/**
 * The `leec` command line (package.json `bin`): `leec demo` and `leec issue`, parsed with commander.
 * Every failure, a usage error included, ends as ONE stderr line `leec: <CODE>: <message>` and an
 * exit code (0 ok, 1 failed, 2 bad usage or input, 128+n on a signal). LEEC_DEBUG=1 adds the stack.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { KEY_TYPES } from '../crypto/key-type.js';
import { ErrorCode, InvalidInputError } from '../errors.js';
import { DEMO_DOMAINS, DEMO_KEY_TYPE, DEMO_OUT, parseDemoOptions, runDemo, type RawDemoOptions } from './demo.js';
import { MAX_DEMO_DOMAINS } from './demo-domains.js';
import { EXIT_USAGE, exitCodeOf, failureLine } from './failure.js';
import { ISSUE_HTTP_HOST, ISSUE_OUT, parseIssueOptions, runIssue, type RawIssueOptions } from './issue.js';
import { processIo, type CliIo } from './io.js';
import { runInspect } from './inspect.js';
import { obtainDhParams } from '../dh-params.js';
import { DNS_PROVIDERS } from '../dns/registry.js';
import {
  parseAccountDeactivateOptions,
  parseAccountOptions,
  parseAccountRegisterOptions,
  parseAccountUpdateOptions,
  runAccountDeactivate,
  runAccountRegister,
  runAccountShow,
  runAccountUpdate,
  type RawAccountDeactivateOptions,
  type RawAccountOptions,
  type RawAccountRegisterOptions,
  type RawAccountUpdateOptions,
} from './account.js';
import { runAccountRollover } from './account-rollover.js';
import { withConnectionFlags } from './connection-options.js';
import { REVOCATION_REASONS } from './revocation-reason.js';
import { parseRevokeOptions, runRevoke, type RawRevokeOptions } from './revoke.js';

/** After the work is done, a handle left open by a dependency must not keep the process alive longer than this. */
const EXIT_GRACE_MS = 3_000;

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function report(err: unknown, io: CliIo): number {
  io.err(failureLine(err));
  if (process.env['LEEC_DEBUG'] === '1' && err instanceof Error && err.stack !== undefined) io.err(err.stack);
  return exitCodeOf(err);
}

/** Builds the commander program; each action stores its exit code through `setExit`. */
function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('leec')
    .description('ACME (RFC 8555) certificates: one worker-thread agent per domain under a supervisor')
    .version(packageVersion())
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      outputError: () => undefined, // reported as one `leec: CODE: message` line instead
    })
    .addHelpText('after', '\nExit codes: 0 ok, 1 failed, 2 bad usage or input, 130 interrupted. LEEC_DEBUG=1 prints stacks.');

  program
    .command('demo')
    .description('start a local Pebble CA, issue certificates for demo domains in parallel, serve them all from one HTTPS server and verify every name with a real TLS handshake')
    .option('--domains <n>', `number of demo domains, 1..${MAX_DEMO_DOMAINS}`, String(DEMO_DOMAINS))
    .option('--out <dir>', 'output directory (store/ and pebble-root.pem)', DEMO_OUT)
    .option(
      '--key-type <type>',
      `certificate key type: ${KEY_TYPES.join(', ')} (the demo defaults to ${DEMO_KEY_TYPE} for speed; the library and \`leec issue\` default to rsa4096)`,
      DEMO_KEY_TYPE,
    )
    .addHelpText('after', '\nNeeds Pebble (`apt-get install pebble`); run as root, the demo installs it with apt-get.')
    .action(async (raw: RawDemoOptions) => {
      setExit(await runDemo(parseDemoOptions(raw), io));
    });

  program
    .command('dhparams')
    .description("Diffie-Hellman parameters for DHE (LEEC's dh-params.pem): generated once, reused afterwards")
    .option('--out <file>', 'where to keep them', 'dh-params.pem')
    .option('--bits <n>', 'prime size, 1024..8192', '2048')
    .action(async (raw: { out: string; bits: string }) => {
      const bits = Number(raw.bits);
      if (!/^\d+$/.test(raw.bits) || bits < 1024 || bits > 8192) {
        throw new InvalidInputError(ErrorCode.invalidOption, `--bits must be 1024..8192, got ${JSON.stringify(raw.bits)}`, { step: 'input' });
      }
      const t0 = Date.now();
      const { created } = await obtainDhParams(raw.out, bits);
      io.out(created ? `generated ${bits}-bit DH parameters in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${raw.out}` : `reusing the DH parameters in ${raw.out}`);
      setExit(0);
    });

  program
    .command('inspect')
    .description('show a certificate chain from a PEM file or a TLS server (HOST:PORT), as openssl x509 -text would, and whether it verifies')
    .argument('<target>', 'a PEM file, or HOST:PORT of a TLS server')
    .option('--ca <file>', 'PEM trust anchors to verify against (default: the roots bundled with Node)')
    .option('--servername <name>', 'SNI name to ask the server for (default: the host)')
    .action(async (target: string, raw: { ca?: string; servername?: string }) => {
      setExit(await runInspect({ target, caFile: raw.ca, servername: raw.servername }, io));
    });

  program
    .command('issue')
    .description('obtain a certificate from an ACME CA with http-01, dns-01 or tls-alpn-01 and store it (reused while fresh unless --force)')
    .option('--directory <url>', 'ACME directory URL (https://)')
    .option('--domain <name>', 'primary name of the certificate')
    .option('--san <name>', 'extra name (subjectAltName); repeatable', collect, [])
    .option('--ca-bundle <file>', "PEM file of trust anchors for the CA's HTTPS (instead of the system store)")
    .option('--http-port <port>', 'serve http-01 challenges on this port (a real CA validates on port 80)')
    .option('--http-host <address>', `address the http-01 responder binds (default ${ISSUE_HTTP_HOST})`)
    .option('--webroot <dir>', "write http-01 tokens under <dir>/.well-known/acme-challenge/ for your own web server")
    .option('--out <dir>', 'store directory (certificates/<domain>/, accounts/)', ISSUE_OUT)
    .option('--key-type <type>', `certificate key type: ${KEY_TYPES.join(', ')} (default: rsa4096)`)
    .option('--email <address>', 'account contact (sent as mailto:)')
    .option('--force', 'order a new certificate even when the stored one is still fresh')
    .option('--insecure-loopback', 'accept an http:// directory on a loopback address (test CAs only)')
    .option('--challenge <type>', 'http-01, dns-01 (needed for wildcards) or tls-alpn-01', 'http-01')
    .option('--dns-provider <name>', `dns-01: ${DNS_PROVIDERS.join(', ')}`)
    .option('--dns-option <key=value>', 'dns-01: a provider option, e.g. server=127.0.0.1:53 or url=http://127.0.0.1:8055; repeatable', collect, [])
    .option('--dns-resolver <ip[:port]>', "dns-01: check the TXT value here before answering (default: the zone's authoritative servers); repeatable", collect, [])
    .option('--dns-timeout <seconds>', 'dns-01: how long the TXT value may take to appear (default 120)')
    .option('--tls-port <port>', 'tls-alpn-01: serve the challenge on this port (a real CA validates on port 443)')
    .option('--tls-host <address>', `address the tls-alpn-01 responder binds (default ${ISSUE_HTTP_HOST})`)
    .option('--profile <name>', "an ACME profile the CA lists in its directory's meta.profiles")
    .action(async (raw: RawIssueOptions) => {
      setExit(await runIssue(await parseIssueOptions(raw), io));
    });

  const account = program
    .command('account')
    .description("the ACME account the store keeps for a directory (RFC 8555 §7.3): register, show, update, rollover, deactivate");

  withConnectionFlags(account.command('register'))
    .description('create the account key (EC P-256, stored 0600) if there is none and register it; idempotent on a known key')
    .option('--email <address>', 'account contact (sent as mailto:); repeatable', collect, [])
    .option('--agree-tos', "agree to the CA's terms of service (required; the directory's meta.termsOfService)")
    .option('--eab-kid <kid>', 'External Account Binding key identifier from the CA (RFC 8555 §7.3.4)')
    .option('--eab-hmac-key <key>', 'External Account Binding MAC key from the CA, base64url')
    .option('--json', 'print one JSON object')
    .action(async (raw: RawAccountRegisterOptions) => {
      setExit(await runAccountRegister(await parseAccountRegisterOptions(raw), io));
    });

  withConnectionFlags(account.command('show'))
    .description('look the stored key up at the CA (onlyReturnExisting) and print the account: URL, status, contacts, orders')
    .option('--json', 'print one JSON object')
    .action(async (raw: RawAccountOptions) => {
      setExit(await runAccountShow(await parseAccountOptions(raw), io));
    });

  withConnectionFlags(account.command('update'))
    .description("replace the account's contacts (RFC 8555 §7.3.2)")
    .option('--email <address>', 'account contact (sent as mailto:); repeatable, at least one', collect, [])
    .option('--json', 'print one JSON object')
    .action(async (raw: RawAccountUpdateOptions) => {
      setExit(await runAccountUpdate(await parseAccountUpdateOptions(raw), io));
    });

  withConnectionFlags(account.command('rollover'))
    .description('replace the account key (RFC 8555 §7.3.5): the new key is stored only once the CA accepted it')
    .option('--json', 'print one JSON object')
    .action(async (raw: RawAccountOptions) => {
      setExit(await runAccountRollover(await parseAccountOptions(raw), io));
    });

  withConnectionFlags(account.command('deactivate'))
    .description('deactivate the account for good (RFC 8555 §7.3.6); needs --yes')
    .option('--yes', 'confirm: deactivation cannot be undone')
    .option('--json', 'print one JSON object')
    .action(async (raw: RawAccountDeactivateOptions) => {
      setExit(await runAccountDeactivate(await parseAccountDeactivateOptions(raw), io));
    });

  withConnectionFlags(program.command('revoke'))
    .description("revoke a certificate (RFC 8555 §7.6), signed by the stored account key or, with --key, by the certificate's key")
    .option('--cert <file>', 'the PEM certificate to revoke (the first one of a chain file)')
    .option('--key <file>', "sign with the certificate's private key instead of the account key")
    .option('--reason <reason>', `RFC 5280 CRLReason, by number or name: ${Object.entries(REVOCATION_REASONS).map(([n, c]) => `${c} ${n}`).join(', ')}`)
    .action(async (raw: RawRevokeOptions) => {
      setExit(await runRevoke(await parseRevokeOptions(raw), io));
    });
  return program;
}

/**
 * Runs the CLI on `argv` (as `process.argv`: node, script, args...) and returns the exit code.
 * Never rejects: every failure is reported as one line on stderr.
 */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0; // --help, --version
      if (err.code === 'commander.help' || err.code === 'commander.helpDisplayed') return EXIT_USAGE; // help shown for a missing command
      const message = err.message.replace(/^error: /, '');
      return report(new InvalidInputError(ErrorCode.invalidOption, message, { step: 'input', data: { commander: err.code } }), io);
    }
    return report(err, io);
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const io = processIo();
  const last = (err: unknown): void => {
    process.exitCode = report(err, io);
    process.exit();
  };
  process.on('uncaughtException', last);
  process.on('unhandledRejection', last);
  // `leec ... | head`: the reader went away, which ends the output, not the command's success.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') return last(err);
    process.exit(process.exitCode ?? 0);
  });
  void main(process.argv, io).then((code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  });
}
