import { insertAuditRows } from './fixtures.js';
import { benchDatabase } from './lib.js';
const db = await benchDatabase('pgcomply_verifydev');
await insertAuditRows(db.admin, Number(process.argv[2] ?? 1_000_000), { subjects: 50_000 });
while ((await db.admin`select compliance.seal_audit_log(10000, 100) as n`)[0]!.n > 0);
await db.admin`vacuum analyze compliance.audit_logs`;
console.log(db.adminUrl);
await db.admin.end();
process.exit(0);
