/**
 * Run before the test files: makes sure Pebble is installed (apt, when root), so `npm test` on a fresh
 * Debian/Ubuntu machine needs no other set-up step. Prints what it does; exits 2 with the install
 * command when it cannot install.
 */
import { ensurePebble } from '../../src/pebble/install.js';

try {
  const bins = await ensurePebble({ allowInstall: true, log: (line) => process.stdout.write(`pebble: ${line}\n`) });
  process.stdout.write(`pebble: using ${bins.pebble} and ${bins.challtestsrv}\n`);
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
}
