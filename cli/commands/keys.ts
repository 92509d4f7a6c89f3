/** pgcomply keys: the PHI master keys. */
import { keyRotate, keyStatus } from '../../server/health-records/key-commands.js';
import { printResult, progress } from '../output.js';
import type { Cli } from '../program.js';

export function registerKeys(cli: Cli): void {
  const keys = cli.program.command('keys').description('PHI master keys');
  keys.command('status').description('which master key versions wrap the stored data keys, and which are loaded here')
    .action(async () => {
      const status = await keyStatus(cli.globals().database);
      if (status.in_use.some((v) => !v.loaded)) process.exitCode = cli.EXIT.finding;
      printResult(status.in_use.map((v) => ({ ...v, newest_loaded: status.newest })), Boolean(cli.globals().json));
    });
  keys.command('rotate').description('rewrap every data key under the newest master key in PHI_MASTER_KEY; no record is re-encrypted')
    .action(async () => {
      const before = await keyStatus(cli.globals().database);
      const bar = progress(before.in_use.filter((v) => v.kek_version !== before.newest).reduce((n, v) => n + v.data_keys, 0), 'rewrapping data keys');
      let seen = 0;
      const result = await keyRotate((done) => {
        for (; seen < done; seen += 1) bar.tick();
      }, cli.globals().database);
      bar.stop();
      printResult({ rewrapped: result.rewrapped, master_key_version: result.kekVersion, remaining_under_older_versions: result.remaining }, Boolean(cli.globals().json));
    });
}
