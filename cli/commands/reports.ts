/** pgcomply report monthly and pgcomply evidence: what an auditor takes away. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Option } from 'commander';
import { renderMonthlyReport } from '../../server/reports/html.js';
import { progress, writeOut } from '../output.js';
import type { Cli } from '../program.js';
import { evidenceOnStandby, replicaOf } from '../standby.js';

export function registerReports(cli: Cli): void {
  const report = cli.program.command('report').description('compliance reports');
  report.command('monthly').description('compute the report of a calendar month (UTC); its hash goes into the audit chain')
    .requiredOption('--month <YYYY-MM>', 'the month')
    .addOption(new Option('--format <format>', 'html or json').choices(['html', 'json']).default('json'))
    .option('--out <file>', 'write it here instead of stdout')
    .action(async (options: { month: string; format: 'html' | 'json'; out?: string }) => cli.withSession(async ({ caller }) => {
      const made = await caller.reports.generate({ month: options.month });
      if (options.format === 'json') writeOut(JSON.stringify(made, null, 2), options.out);
      else writeOut(renderMonthlyReport(made as never), options.out);
      if (options.out) process.stderr.write(`report ${made.id} (${options.month}, SHA-256 ${made.content_sha256}) written to ${options.out}\n`);
    }));

  cli.program.command('evidence').description('the evidence populations of a period as CSVs with a manifest whose hash goes into the audit chain')
    .requiredOption('--from <time>', 'the period\'s start (inclusive), ISO 8601')
    .requiredOption('--to <time>', 'the period\'s end (exclusive)')
    .requiredOption('--out <dir>', 'the directory to write manifest.json and one CSV per population into')
    .option('--replica <url>', 'read the populations on this hot standby (REPLICA_DATABASE_URL) once it has replayed what the primary held at the start; the manifest, naming the standby, is recorded on the primary')
    .action(async (options: { from: string; to: string; out: string; replica?: string }) => cli.withSession(async (session) => {
      const replicaUrl = replicaOf(options.replica);
      const period = { from: new Date(options.from), to: new Date(options.to) };
      const made = replicaUrl ? await evidenceOnStandby(session, replicaUrl, period.from, period.to) : await session.caller.evidence.package(period);
      mkdirSync(options.out, { recursive: true });
      const bar = progress(Object.keys(made.csv).length, 'writing populations');
      for (const [name, csv] of Object.entries(made.csv)) {
        writeFileSync(path.join(options.out, `${name}.csv`), csv);
        bar.tick();
      }
      bar.stop();
      writeFileSync(path.join(options.out, 'manifest.json'), `${JSON.stringify({ package_id: made.package_id, manifest_sha256: made.manifest_sha256, ...made.manifest as object }, null, 2)}\n`);
      return { package_id: made.package_id, manifest_sha256: made.manifest_sha256, directory: options.out,
        populations: (made.manifest as { populations: { name: string; rows: number }[] }).populations.map((p) => `${p.name}: ${p.rows}`).join(', ') };
    }));
}
