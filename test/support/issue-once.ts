/**
 * A child process for the whole-process crash test: starts a Supervisor against the given CA and store,
 * obtains one certificate, and reports each state change on stdout (`state <name> <orderUrl>`), then
 * `done <serial>` and exits. The test SIGKILLs it mid-issuance and runs it again.
 */
import { X509Certificate } from 'node:crypto';
import { Supervisor } from '../../src/supervisor.js';

const [directoryUrl, storeDir, domain] = process.argv.slice(2) as [string, string, string];
const sup = await Supervisor.start({ directoryUrl, storeDir, allowInsecureLoopback: true, keyType: 'ec256', http01: { mode: 'embedded' } });
sup.on('state', (e) => process.stdout.write(`state ${e.state} ${e.orderUrl ?? '-'}\n`));
const r = await sup.obtainCertificate(domain);
process.stdout.write(`done ${new X509Certificate(r.fullchainPem).serialNumber}\n`);
await sup.shutdown();
