/**
 * What a restored database's own checks say about row-level security and grants: a backup check
 * (pgcomply backup verify) and a restore drill ask the copy, not the live database.
 */
import type { Sql } from 'postgres';

export interface BackupProblem { kind: string; detail: string; seal_no?: number | null; row_id?: number; file?: string }

export async function accessProblems(restored: Sql): Promise<BackupProblem[]> {
  const problems: BackupProblem[] = [];
  const checks = [['row_level_security', 'missing_rls'], ['privileges', 'grants_differ']] as const;
  for (const [check, kind] of checks) {
    const [found] = await restored.unsafe<{ exists: boolean }[]>(`select to_regprocedure('compliance_private.check_${check}(jsonb)') is not null as exists`);
    if (!found!.exists) {
      problems.push({ kind, detail: `the restored database has no compliance_private.check_${check}: it is not a pgcomply database, or a damaged one` });
      continue;
    }
    const [result] = await restored.unsafe<{ status: string; detail: string }[]>(`select status, detail from compliance_private.check_${check}('{}'::jsonb)`);
    if (result!.status !== 'pass') problems.push({ kind, detail: result!.detail });
  }
  return problems;
}
