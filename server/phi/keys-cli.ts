/**
 * npm run phi-keys -- status | rotate (also pgcomply keys status | rotate)
 *   status  which master key versions wrap the stored data keys, and which this process holds
 *   rotate  rewrap every data key under the newest master key in PHI_MASTER_KEY (server/phi/rotate.ts)
 */
import { Command } from 'commander';
import { keyRotate, keyStatus } from './key-commands.js';

const program = new Command('phi-keys').description('PHI master keys: status and rotation');

program.command('status').description('master key versions in use, and which are loaded here').action(async () => {
  const status = await keyStatus();
  process.stdout.write(`loaded master key versions: ${status.loaded_versions.join(', ')} (newest ${status.newest})\n`);
  for (const row of status.in_use) {
    process.stdout.write(`version ${row.kek_version}: wraps ${row.data_keys} data keys${row.loaded ? '' : ' (NOT LOADED: those records cannot be read)'}\n`);
  }
});

program.command('rotate').description('rewrap every data key under the newest loaded master key').action(async () => {
  const result = await keyRotate((done) => process.stdout.write(`\rrewrapped ${done}`));
  process.stdout.write(`\nrewrapped ${result.rewrapped} data keys under master key version ${result.kekVersion}; ${result.remaining} remain under older versions`
    + `${result.remaining === 0 ? ': the older master keys may now be removed' : ''}\n`);
});

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`pgcomply phi-keys: ${(error as Error).message}\n`);
  process.exit(1);
});
