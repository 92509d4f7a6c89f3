/**
 * The suite's subject-rights, consent, health-record, retention and audit tests against a Citus
 * coordinator with two workers (test/citus-suite.config.ts). Every test there passes except those
 * docs/CITUS.md lists, under "The suite against the coordinator", with the reason; a listed test
 * that passes fails this harness too, so the list stays what the cluster does.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';

interface Report {
  testResults: { name: string; assertionResults: { ancestorTitles: string[]; title: string; status: string }[] }[];
}

/** the tests docs/CITUS.md lists as behaving otherwise on Citus; "file › *" is every test of a file */
function listedDifferences(): string[] {
  const doc = readFileSync('docs/CITUS.md', 'utf8');
  const section = doc.slice(doc.indexOf('## The suite against the coordinator'), doc.indexOf('## What is still to come'));
  return [...section.matchAll(/^- `(test\/[^`]+ › [^`]+)`$/gm)].map((m) => m[1]!);
}

it('passes on the coordinator every suite test that docs/CITUS.md does not list, and fails every one it lists', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-citus-suite-report-'));
  try {
    const report = path.join(out, 'report.json');
    const run = spawnSync('npx', ['vitest', 'run', '--config', 'test/citus-suite.config.ts', '--reporter=json', `--outputFile=${report}`],
      { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    const results = (JSON.parse(readFileSync(report, 'utf8')) as Report).testResults;
    expect(results.length, run.stderr.slice(-2000)).toBeGreaterThan(0);

    const listed = listedDifferences();
    const wholeFiles = listed.filter((l) => l.endsWith(' › *')).map((l) => l.slice(0, -' › *'.length));
    const tests = results.flatMap((result) => {
      const file = path.relative(process.cwd(), result.name);
      return result.assertionResults.map((test) => {
        const name = [file, ...test.ancestorTitles, test.title].join(' › ');
        return { name, passed: test.status === 'passed', listed: listed.includes(name) || wholeFiles.includes(file) };
      });
    });
    const unexpected = tests.filter((t) => !t.passed && !t.listed).map((t) => t.name);
    const nowPassing = tests.filter((t) => t.passed && t.listed).map((t) => t.name);
    // a single listed test must still exist (a whole file listed must still fail as a whole, above)
    const missing = listed.filter((l) => !l.endsWith(' › *') && !tests.some((t) => t.name === l));

    expect(unexpected, 'fail on Citus without a reason in docs/CITUS.md').toEqual([]);
    expect(nowPassing, 'pass on Citus now: take them off the list in docs/CITUS.md').toEqual([]);
    expect(missing, 'listed in docs/CITUS.md but no longer in the suite').toEqual([]);
    expect(tests.filter((t) => t.passed).length).toBeGreaterThanOrEqual(45);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
