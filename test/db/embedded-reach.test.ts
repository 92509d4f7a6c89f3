/** As root, a clone the postgres OS user cannot enter stops with one sentence, not `spawn initdb EACCES`. */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded } from '../../db/embedded.js';
import { blockedAncestor } from '../../db/reachable.js';

let home = '';
beforeAll(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'pgcomply-home-'));
  await mkdir(path.join(home, 'clone', '.data'), { recursive: true });
  await chmod(home, 0o700);
});
afterAll(() => rm(home, { recursive: true, force: true }));

describe('a data directory under a 0700 directory', () => {
  it('is found blocked at that directory', () => {
    expect(blockedAncestor(path.join(home, 'clone', '.data', 'pg'))).toBe(home);
    expect(blockedAncestor(os.tmpdir())).toBeUndefined();
  });

  it('stops the embedded start with what to do when running as root, before any process is spawned', async () => {
    const start = startEmbedded({ databaseDir: path.join(home, 'clone', '.data', 'pg'), port: 1, password: 'x', persistent: false }, true);
    if (process.getuid?.() === 0) {
      await expect(start).rejects.toThrow(new RegExp(`cannot enter ${home}.*chmod o\\+x ${home}.*DATABASE_URL`));
    } else {
      // not root: PostgreSQL runs as this user, who can enter its own directories; the start
      // then fails only at the port, which is what this asserts
      await expect(start).rejects.not.toThrow(/cannot enter/);
    }
  });
});
