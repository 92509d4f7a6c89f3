/**
 * A database of an earlier release, for the tests of what a migration does to data written
 * before it: migrated with the committed migrations before `firstLeftOut` only, then, when the
 * test says so, with all of them.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, inject } from 'vitest';
import { parseDatabaseUrl, withDatabase } from '../../db/connection.js';
import { MIGRATIONS_FOLDER, migrateDatabase } from '../../db/setup.js';
import { quiet } from './database.js';

export interface OlderRelease {
  readonly url: string;
  /** creates the database at the release before firstLeftOut and connects to it */
  create(): Promise<postgres.Sql>;
  /** migrates it to this release */
  upgrade(): Promise<void>;
}

export function useOlderRelease(label: string, firstLeftOut: string): OlderRelease {
  const name = `${inject('runPrefix')}_${label}_${process.pid}`;
  const url = withDatabase(parseDatabaseUrl(inject('maintenanceUrl')), name);
  const folder = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-migrations-'));
  let sql: postgres.Sql | undefined;
  const maintenance = async (statement: string) => {
    const connection = postgres(inject('maintenanceUrl'), { ...quiet, max: 1 });
    try {
      await connection.unsafe(statement);
    } finally {
      await connection.end();
    }
  };
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await maintenance(`drop database if exists "${name}" with (force)`);
    rmSync(folder, { recursive: true, force: true });
  });
  return {
    url,
    async create() {
      mkdirSync(path.join(folder, 'committed'));
      for (const file of readdirSync(path.join(MIGRATIONS_FOLDER, 'committed')).filter((f) => f < firstLeftOut)) {
        cpSync(path.join(MIGRATIONS_FOLDER, 'committed', file), path.join(folder, 'committed', file));
      }
      writeFileSync(path.join(folder, 'current.sql'), '');
      await maintenance(`create database "${name}"`);
      await migrateDatabase(url, inject('loginPassword'), folder);
      sql = postgres(url, { ...quiet, max: 2 });
      return sql;
    },
    upgrade: () => migrateDatabase(url, inject('loginPassword')),
  };
}
