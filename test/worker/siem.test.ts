/**
 * The SIEM feed against Debian's rsyslog, started by the test on loopback with a TLS listener
 * (imtcp with the gtls driver, RFC 5425): every sealed audit row arrives, each with its row hash
 * and seal; restarting rsyslog mid-stream loses nothing (the receiver's file holds every id at
 * least once, and each once after de-duplication by id); siem_lag fails while rsyslog is down past
 * its threshold and passes once the feed has caught up.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../db/embedded.js';
import { startWorker, type Worker } from '../../worker/runner.js';
import { useTestDatabase } from '../provision/database.js';
import { until } from '../provision/until.js';

const db = useTestDatabase();
const dir = mkdtempSync(path.join(os.tmpdir(), 'pgcomply-siem-'));
const received = path.join(dir, 'received.log');
const certFile = path.join(dir, 'siem.crt');
let port = 0;
let rsyslog: ChildProcess | undefined;
let worker: Worker | undefined;

function rsyslogConfig(): string {
  return `global(workDirectory="${dir}" defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="${certFile}"
       defaultNetstreamDriverCertFile="${certFile}" defaultNetstreamDriverKeyFile="${path.join(dir, 'siem.key')}")
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" port="${port}" address="127.0.0.1")
template(name="eventOnly" type="string" string="%msg%\\n")
action(type="omfile" file="${received}" template="eventOnly")
`;
}

const accepts = () => new Promise<boolean>((resolve) => {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => { socket.end(); resolve(true); });
  socket.once('error', () => resolve(false));
});

async function startRsyslog() {
  rsyslog = spawn('/usr/sbin/rsyslogd', ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'rsyslog.pid')], { stdio: ['ignore', 'ignore', 'inherit'] });
  await until(async () => ((await accepts()) ? true : undefined), 30_000, 'rsyslog to accept TLS connections');
}

async function stopRsyslog() {
  const running = rsyslog;
  rsyslog = undefined;
  if (!running || running.exitCode !== null) return;
  const exited = new Promise((resolve) => running.once('exit', resolve));
  running.kill('SIGTERM');
  await exited;
}

/** the events in the receiver's file, by id */
type Received = { id: string; row_hash: string; chain: string; seal: string; seal_position: number; seal_rows: number; seal_hash: string };
function receivedEvents(): Map<string, Received[]> {
  const events = new Map<string, Received[]>();
  if (!existsSync(received)) return events;
  // only whole lines: rsyslog may be writing the last one while we read
  const lines = readFileSync(received, 'utf8').split('\n');
  lines.pop();
  for (const line of lines) {
    const start = line.indexOf('{');
    if (start < 0) continue;
    const event = JSON.parse(line.slice(start));
    events.set(event.id, [...(events.get(event.id) ?? []), event]);
  }
  return events;
}

async function writeEvents(prefix: string, count: number) {
  for (let i = 0; i < count; i += 1) {
    await db.as('compliance_app', { actor: `user:${prefix}${i}` }, async (tx) => {
      await tx`select compliance.ensure_profile(${`user:${prefix}${i}`})`;
      await tx`select compliance.record_consent(${`user:${prefix}${i}`}, 'analytics', true, null)`;
    });
  }
}

const sealedIds = async () => (await db.admin`select u.id::text as id from compliance.audit_seals s, unnest(s.row_ids) u(id)`).map((r) => r.id as string);
const lagCheck = async () => (await db.admin`select status, measured from compliance_private.check_siem_lag('{}')`)[0]!;

beforeAll(async () => {
  port = await freePort();
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], { notAfterDate: new Date(Date.now() + 86_400_000), keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }] });
  writeFileSync(certFile, pems.cert);
  writeFileSync(path.join(dir, 'siem.key'), pems.private, { mode: 0o600 });
  writeFileSync(path.join(dir, 'rsyslog.conf'), rsyslogConfig());
  await startRsyslog();
});

afterAll(async () => {
  await worker?.stop();
  await stopRsyslog();
  rmSync(dir, { recursive: true, force: true });
});

describe('the SIEM feed over syslog with TLS', () => {
  it('delivers every sealed row with its hash and seal, and loses nothing when rsyslog restarts mid-stream', async () => {
    expect((await lagCheck()).status).toBe('not_applicable');
    await writeEvents('siem-a', 40);
    worker = await startWorker({ connectionString: db.loginUrl('worker'), pollInterval: 200,
      siem: { host: '127.0.0.1', port, caFile: certFile, batch: 25, settleMs: 300, intervalSeconds: 1 } });
    await until(async () => (receivedEvents().size >= 20 ? true : undefined), 60_000, 'the first events at rsyslog');
    // mid-stream: more rows are written while the receiver restarts
    const writing = writeEvents('siem-b', 40);
    await stopRsyslog();
    await startRsyslog();
    await writing;
    await writeEvents('siem-c', 10);
    const ids = await until(async () => {
      const sealed = await sealedIds();
      const events = receivedEvents();
      return sealed.length > 0 && sealed.every((id) => events.has(id)) && (await db.admin`select count(*)::int as n from compliance.audit_logs`)[0]!.n === sealed.length
        ? sealed : undefined;
    }, 120_000, 'every sealed row at rsyslog');
    const events = receivedEvents();
    // each id at least once; after de-duplication by id, exactly the sealed rows
    expect([...events.keys()].sort()).toEqual([...ids].sort());
    const seals = await db.admin`select seal_no::text, encode(seal_hash, 'hex') as seal_hash, row_ids::text[] as row_ids, encode(row_hashes, 'hex') as row_hashes from compliance.audit_seals`;
    for (const seal of seals) {
      (seal.row_ids as string[]).forEach((id, n) => {
        for (const copy of events.get(id)!) {
          expect(copy).toMatchObject({ chain: '', seal: seal.seal_no, seal_hash: seal.seal_hash, seal_position: n + 1, seal_rows: (seal.row_ids as string[]).length,
            row_hash: (seal.row_hashes as string).slice(n * 64, n * 64 + 64) });
        }
      });
    }
    const [lag] = await db.admin`select feeding, lag_seconds from compliance.siem_lag()`;
    expect(lag).toMatchObject({ feeding: true });
  });

  it('refuses an acknowledgement of an event no chain has (BADRG), and never moves a cursor backwards', async () => {
    const ack = (sealNo: string, position: number, chain: string) =>
      db.as('compliance_worker', null, (tx) => tx`select compliance.acknowledge_siem(${sealNo}, ${position}, ${chain})`);
    const cursor = async () => (await db.admin`select seal_no::text, seal_position from compliance_private.siem_chain_cursors where placement = ''`)[0]!;
    const [last] = await db.admin`select seal_no::text, row_count from compliance.audit_seals where placement = '' order by seal_no desc limit 1`;
    const before = await cursor();
    await expect(ack(last!.seal_no, last!.row_count + 1, '')).rejects.toMatchObject({ code: 'BADRG' });
    await expect(ack(last!.seal_no, 1, 'no such chain')).rejects.toMatchObject({ code: 'BADRG' });
    await expect(ack('1', 0, '')).rejects.toMatchObject({ code: 'BADRG' });
    await ack('1', 1, '');
    expect(await cursor()).toEqual(before);
    expect((await db.admin`select count(*)::int as n from compliance_private.siem_chain_cursors`)[0]!.n).toBe(1);
    // the app cannot move the feed at all
    await expect(db.as('compliance_app', null, (tx) => tx`select compliance.acknowledge_siem(${last!.seal_no}, 1, '')`))
      .rejects.toMatchObject({ code: '42501' });
  });

  it('fails siem_lag while rsyslog is down past the threshold, and passes once the feed caught up', async () => {
    await db.admin`update compliance.compliance_check_settings set siem_max_lag = interval '2 seconds'`;
    await until(async () => ((await lagCheck()).status === 'pass' ? true : undefined), 60_000, 'the feed caught up');
    await stopRsyslog();
    await writeEvents('siem-d', 5);
    const failing = await until(async () => {
      const check = await lagCheck();
      return check.status === 'fail' ? check : undefined;
    }, 60_000, 'siem_lag to fail while rsyslog is down');
    expect(Number(failing.measured.lag_seconds)).toBeGreaterThan(2);
    await startRsyslog();
    await until(async () => ((await lagCheck()).status === 'pass' ? true : undefined), 60_000, 'siem_lag to pass again');
  });
});
