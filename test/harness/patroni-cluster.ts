/**
 * etcd and three Patroni-managed PostgreSQL 15 nodes on loopback, in a temporary directory, with
 * synchronous replication (synchronous_mode) and pg_rewind, as docs/HIGH_AVAILABILITY.md
 * configures them. Patroni runs the servers as the postgres OS user; nothing here blocks the
 * event loop, so an API server in this process keeps serving while a node is killed.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../db/embedded.js';
import { ownedDirectory, ownedFile } from '../../db/machine-cluster.js';
import { until } from '../provision/until.js';

const asRoot = process.getuid?.() === 0;
const asPostgres = (program: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', program, ...args]] : [program, args]);

export interface PatroniNode {
  name: string;
  pgPort: number;
  restPort: number;
  dataDir: string;
  configFile: string;
  process?: ChildProcess;
}

export interface Member { name: string; role: 'leader' | 'sync_standby' | 'replica' | string; state: string; lag?: number | string; port: number }

function run(program: string, args: string[]): Promise<string> {
  const [file, argv] = asPostgres(program, args);
  return new Promise((resolve, reject) => execFile(file, argv, { encoding: 'utf8' }, (error, stdout, stderr) =>
    (error ? reject(new Error(`${program} ${args.join(' ')}: ${stderr || stdout || error.message}`)) : resolve(stdout))));
}

function nodeConfig(work: string, node: PatroniNode, etcdPort: number, socketDir: string): string {
  return `scope: pgcomply-ha
namespace: /pgcomply/
name: ${node.name}
restapi:
  listen: 127.0.0.1:${node.restPort}
  connect_address: 127.0.0.1:${node.restPort}
etcd3:
  hosts: 127.0.0.1:${etcdPort}
bootstrap:
  dcs:
    ttl: 12
    loop_wait: 1
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    # a primary whose postmaster dies is failed over at once, not restarted in place
    primary_start_timeout: 0
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_log_hints: "on"
        max_connections: 200
        password_encryption: scram-sha-256
  initdb:
    - encoding: UTF8
    - locale: C
    - data-checksums
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:${node.pgPort}
  connect_address: 127.0.0.1:${node.pgPort}
  data_dir: ${node.dataDir}
  bin_dir: /usr/lib/postgresql/15/bin
  pgpass: ${path.join(work, `${node.name}.pgpass`)}
  authentication:
    superuser:
      username: postgres
      password: postgres
    replication:
      username: replicator
      password: replicator
  parameters:
    unix_socket_directories: ${socketDir}
    fsync: "off"
`;
}

export class PatroniCluster {
  readonly nodes: PatroniNode[] = [];
  private etcd?: ChildProcess;
  private etcdPort = 0;

  constructor(readonly work: string) {}

  async start(count = 3): Promise<void> {
    ownedDirectory(this.work);
    this.etcdPort = await freePort();
    const peerPort = await freePort();
    const etcdLog = openSync(path.join(this.work, 'etcd.log'), 'a');
    this.etcd = spawn('etcd', ['--name', 'harness', '--data-dir', path.join(this.work, 'etcd'),
      '--listen-client-urls', `http://127.0.0.1:${this.etcdPort}`, '--advertise-client-urls', `http://127.0.0.1:${this.etcdPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `harness=http://127.0.0.1:${peerPort}`], { stdio: ['ignore', etcdLog, etcdLog] });
    await until(async () => (await fetch(`http://127.0.0.1:${this.etcdPort}/health`).then((r) => r.ok, () => false)) || undefined, 60_000, 'etcd to answer');
    const socketDir = ownedDirectory(path.join(this.work, 'sockets'));
    for (let i = 1; i <= count; i += 1) {
      const node: PatroniNode = { name: `node${i}`, pgPort: await freePort(), restPort: await freePort(), dataDir: path.join(this.work, `node${i}`, 'data'),
        configFile: path.join(this.work, `node${i}.yml`) };
      ownedDirectory(path.dirname(node.dataDir));
      writeFileSync(node.configFile, nodeConfig(this.work, node, this.etcdPort, socketDir), { mode: 0o600 });
      ownedFile(node.configFile);
      this.nodes.push(node);
    }
    // the first bootstraps the cluster; the others clone it once it leads
    this.startNode(this.nodes[0]!);
    await until(async () => ((await this.leader().catch(() => undefined)) ? true : undefined), 180_000, 'the first node to lead');
    for (const node of this.nodes.slice(1)) this.startNode(node);
    await this.waitForMembers(count);
  }

  startNode(node: PatroniNode): void {
    const log = openSync(path.join(this.work, `${node.name}.log`), 'a');
    const [file, argv] = asPostgres('patroni', [node.configFile]);
    node.process = spawn(file, argv, { stdio: ['ignore', log, log] });
  }

  /** waits until `count` members run, one leading and the rest streaming, one of them synchronous */
  async waitForMembers(count: number, timeoutMs = 240_000): Promise<Member[]> {
    return until(async () => {
      const members = await this.members().catch(() => []);
      const running = members.filter((m) => m.state === 'running' || m.state === 'streaming');
      return running.length === count && members.some((m) => m.role === 'leader') && members.some((m) => m.role === 'sync_standby') ? members : undefined;
    }, timeoutMs, `${count} members running with a synchronous standby`);
  }

  async members(): Promise<Member[]> {
    for (const node of this.nodes) {
      const response = await fetch(`http://127.0.0.1:${node.restPort}/cluster`).catch(() => undefined);
      if (response?.ok) return ((await response.json()) as { members: Member[] }).members;
    }
    throw new Error('no Patroni REST API answers');
  }

  async leader(): Promise<PatroniNode> {
    const leader = (await this.members()).find((m) => m.role === 'leader');
    const node = this.nodes.find((n) => n.name === leader?.name);
    if (!node) throw new Error('no leader');
    return node;
  }

  /** libpq's multi-host URL over every node, for the host that takes writes */
  url(user: string, password: string, database: string, attrs = 'read-write'): string {
    return `postgres://${user}:${encodeURIComponent(password)}@${this.nodes.map((n) => `127.0.0.1:${n.pgPort}`).join(',')}/${database}?target_session_attrs=${attrs}`;
  }

  nodeUrl(node: PatroniNode, database: string, user = 'postgres'): string {
    return `postgres://${user}@127.0.0.1:${node.pgPort}/${database}`;
  }

  /** the postmaster's pid, from its pid file */
  postmasterPid(node: PatroniNode): number {
    return Number(readFileSync(path.join(node.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  }

  patronictl(node: PatroniNode, ...args: string[]): Promise<string> {
    return run('patronictl', ['-c', node.configFile, ...args]);
  }

  async stop(): Promise<void> {
    for (const node of this.nodes) node.process?.kill('SIGTERM');
    await Promise.all(this.nodes.map((node) => (node.process && node.process.exitCode === null
      ? new Promise((resolve) => node.process!.once('exit', resolve)) : Promise.resolve())));
    this.etcd?.kill('SIGTERM');
  }
}
