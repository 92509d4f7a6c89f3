/**
 * pgcomply backup setup: pgBackRest's configuration for the cluster, which pgBackRest itself
 * reads without complaint, encrypted with the repository key from BACKUP_REPO_KEY(_FILE) (never
 * printed, written only into a file its owner alone reads), and the archiving settings with the
 * steps that follow; a missing key or repository is one sentence.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runPgcomply } from '../provision/pgcomply.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-backup-setup-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const key = 'k'.repeat(24) + 'Ey/7+Q2wYv9nD3fXo0pL1sT5';
const keyFile = path.join(work, 'repo.key');
writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
const env = { ...process.env, BACKUP_REPO_KEY_FILE: keyFile, BACKUP_REPO_KEY: '' };
const base = ['backup', 'setup', '--data-dir', path.join(work, 'pg'), '--port', '55433', '--lock-path', path.join(work, 'lock'), '--log-path', path.join(work, 'log')];

describe('pgcomply backup setup', () => {
  it('prints an encrypted local repository\'s configuration with the key left out, the archiving settings and the steps', async () => {
    const run = await runPgcomply([...base, '--repo-path', path.join(work, 'repo')], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('repo1-cipher-type=aes-256-cbc');
    expect(run.stdout).toContain('repo1-cipher-pass=<from BACKUP_REPO_KEY or BACKUP_REPO_KEY_FILE>');
    expect(run.stdout).not.toContain(key);
    expect(run.stdout).toMatch(/^\[pgcomply\]\npg1-path=.*\npg1-port=55433$/m);
    expect(run.stdout).toContain("archive_command = 'pgbackrest --stanza=pgcomply archive-push %p'");
    expect(run.stdout).toContain("archive_mode = 'on'");
    expect(run.stdout).toMatch(/# 2\. restart PostgreSQL/);
    expect(run.stdout).toMatch(/# 5\. pgbackrest --stanza=pgcomply --type=full backup/);
  });

  it('writes the configuration with the key into a file only its owner reads, and pgBackRest reads it', async () => {
    const file = path.join(work, 'pgbackrest.conf');
    const run = await runPgcomply([...base, '--repo-path', path.join(work, 'repo'), '--write', file], env);
    expect(run.code, run.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain(`repo1-cipher-pass=${key}`);
    expect(run.stdout).not.toContain(key);
    expect(run.stdout).toContain(`--config=${file}`);
    for (const dir of ['repo', 'log', 'lock']) mkdirSync(path.join(work, dir), { recursive: true });
    // pgBackRest parses every option: an unknown one, or a bad value, is an error before anything else
    const info = spawnSync('pgbackrest', [`--config=${file}`, '--stanza=pgcomply', '--output=json', 'info'], { encoding: 'utf8' });
    expect(info.stderr).not.toMatch(/invalid|unknown option/i);
    expect(JSON.parse(info.stdout)[0]).toMatchObject({ name: 'pgcomply', status: { message: 'missing stanza path' } });
    expect(execFileSync('pgbackrest', ['version'], { encoding: 'utf8' })).toMatch(/^pgBackRest 2\./);
  });

  it('configures S3-compatible object storage with path-style addressing, its port and CA, the credentials from the environment', async () => {
    const run = await runPgcomply([...base, '--s3-bucket', 'pgcomply-backups', '--s3-endpoint', 's3.internal:9000', '--s3-region', 'eu-central-1',
      '--s3-uri-style', 'path', '--s3-ca-file', '/etc/ssl/certs/storage-ca.pem'], { ...env, AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/EXAMPLE' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/repo1-type=s3\nrepo1-path=\/pgcomply\nrepo1-s3-bucket=pgcomply-backups\nrepo1-s3-endpoint=s3.internal\nrepo1-s3-region=eu-central-1\nrepo1-s3-uri-style=path\nrepo1-storage-port=9000\nrepo1-storage-ca-file=\/etc\/ssl\/certs\/storage-ca.pem/);
    expect(run.stdout).not.toContain('wJalrXUtnFEMI/EXAMPLE');
  });

  it('refuses without a repository key, or a repository, in one sentence each', async () => {
    const noKey = await runPgcomply([...base, '--repo-path', path.join(work, 'repo')], { ...process.env, BACKUP_REPO_KEY: '', BACKUP_REPO_KEY_FILE: '' });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr.trim().split('\n')).toHaveLength(1);
    expect(noKey.stderr).toMatch(/set BACKUP_REPO_KEY_FILE/);
    const noRepo = await runPgcomply(base, env);
    expect(noRepo.code).toBe(2);
    expect(noRepo.stderr).toMatch(/name the repository: --repo-path/);
  });
});
