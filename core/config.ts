/** Environment configuration, validated once at start; a bad value ends the process with one line. */
import { type ArchiveStore, openArchiveStore } from './archive/store.js';
import os from 'node:os';
import path from 'node:path';
import { type AnchorKey, loadAnchorKey } from './anchors/anchors.js';
import type { RestoreDrills } from './backups/restore-drill.js';
import { z } from 'zod';
import { isIP } from 'node:net';
import { DEVELOPMENT_LOGIN_PASSWORD, parseDatabaseUrl } from '../db/connection.js';
import { checkKeyring, type PepperSource, pepperSource } from '../db/pepper.js';
import { refuseUnencrypted } from '../db/tls.js';
import { type MasterKeySource, masterKeySource, parseKeyRing } from './keys/master-keys.js';

const optionalText = z.string().trim().min(1).optional().catch(undefined);
const databaseUrl = (name: string) =>
  z.string().optional().transform((value, ctx) => {
    if (!value) return undefined;
    try {
      parseDatabaseUrl(value, name);
      return value;
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

const schema = z.object({
  DATABASE_URL: databaseUrl('DATABASE_URL'),
  SERVER_DATABASE_URL: databaseUrl('SERVER_DATABASE_URL'),
  WORKER_DATABASE_URL: databaseUrl('WORKER_DATABASE_URL'),
  DB_LOGIN_PASSWORD: z.string().min(8, 'DB_LOGIN_PASSWORD must have at least 8 characters').default(DEVELOPMENT_LOGIN_PASSWORD),
  PORT: z.coerce.number({ message: 'PORT must be a number' }).int().min(0).max(65535, 'PORT must be 0..65535').default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  // host names the server answers for (DNS rebinding): comma-separated; loopback names when unset
  ALLOWED_HOSTS: z.string().trim().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['pretty', 'json']).optional(),
  AUTH_JWKS_URL: z.url({ message: 'AUTH_JWKS_URL must be a URL' }).optional(),
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  TRUST_PROXY_TLS: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  BACKUP_STANZA: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'BACKUP_STANZA takes letters, digits, _ and -').optional(),
  PGBACKREST_CONFIG: z.string().min(1).optional(),
  PGBACKREST_COMMAND: z.string().min(1).default('pgbackrest'),
  BACKUP_DRILL_DIR: z.string().min(1).optional(),
  REPLICA_DATABASE_URL: databaseUrl('REPLICA_DATABASE_URL'),
  // the API's /healthz, which the worker probes every 15 s for the uptime figure (npm start probes its own)
  SERVICE_HEALTH_URL: z.url({ message: 'SERVICE_HEALTH_URL must be a URL (https://pgcomply.example.com/healthz)' }).optional(),
  MFA_AMR_VALUES: z.string().default('mfa,otp,hwk,swk'),
  MFA_ACR_VALUES: z.string().default(''),
  MFA_ROLES: z.string().default('dpo,staff,approver,auditor'),
  STEP_UP_MAX_AGE_SECONDS: z.coerce.number().int().min(30).max(86_400).default(600),
  JWKS_MAX_AGE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  AUTH_ISSUER: optionalText,
  AUTH_AUDIENCE: optionalText,
  OIDC_CLIENT_ID: optionalText,
  OIDC_SCOPE: z.string().trim().min(1).default('openid profile email'),
  AUTH_JWT_SECRET: z.string().min(32, 'AUTH_JWT_SECRET must have at least 32 characters').optional(),
  SESSION_IDLE_TIMEOUT_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900),
  PGCOMPLY_DATA_DIR: z.string().min(1).default('.data'),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  RUN_WORKER: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  NODE_ENV: z.string().default('development'),
  TOMBSTONE_PEPPER: z.string().trim().min(1).optional(),
  WORKER_STALE_LOCK_SECONDS: z.coerce.number().int().min(2).max(86_400).default(300),
  TOMBSTONE_PEPPER_FILE: z.string().trim().min(1).optional(),
  REQUIRE_TLS: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  PHI_MASTER_KEY: z.string().trim().min(1).optional(),
  PHI_MASTER_KEY_FILE: z.string().trim().min(1).optional(),
  ALERT_WEBHOOK_URL: z.url({ message: 'ALERT_WEBHOOK_URL must be a URL' }).optional(),
  ALERT_WEBHOOK_SECRET: z.string().min(32, 'ALERT_WEBHOOK_SECRET must have at least 32 characters (openssl rand -hex 32)').optional(),
  ALERT_LEASE_SECONDS: z.coerce.number().int().min(2).max(3600).default(60),
  PROPAGATION_SECRET: z.string().min(32, 'PROPAGATION_SECRET must have at least 32 characters (openssl rand -hex 32)').optional(),
  PROPAGATION_CALLBACK_URL: z.url({ message: 'PROPAGATION_CALLBACK_URL must be a URL (the API\'s /api/v1/propagation/callback as other systems reach it)' }).optional(),
  PROPAGATION_LEASE_SECONDS: z.coerce.number().int().min(2).max(3600).default(60),
  SCIM_CONNECTORS: z.string().trim().min(1).optional(),
  SIEM_SYSLOG_URL: z.string().regex(/^tls:\/\/[^/:\s]+:\d{1,5}$/, 'SIEM_SYSLOG_URL is tls://host:port (syslog over TLS, RFC 5425; 6514 is its port)').optional(),
  SIEM_SYSLOG_CA_FILE: z.string().trim().min(1).optional(),
  SIEM_BATCH: z.coerce.number().int().min(1).max(10_000).default(2000),
  ARCHIVE_TO: z.string().trim().min(1).optional(),
  ARCHIVE_S3_ENDPOINT: z.url({ message: 'ARCHIVE_S3_ENDPOINT must be a URL (e.g. https://storage.googleapis.com or a MinIO server)' }).optional(),
  ARCHIVE_S3_REGION: z.string().trim().min(1).default('us-east-1'),
  ARCHIVE_S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).optional(),
  ARCHIVE_S3_SSE: z.enum(['AES256', 'aws:kms']).optional(),
  ARCHIVE_S3_SSE_KMS_KEY_ID: z.string().trim().min(1).optional(),
  ARCHIVE_S3_OBJECT_LOCK: z.enum(['GOVERNANCE', 'COMPLIANCE']).optional(),
  ANCHOR_DIR: z.string().trim().min(1).optional(),
  ANCHOR_SIGNING_KEY: z.string().trim().min(1).optional(),
  ANCHOR_SIGNING_KEY_FILE: z.string().trim().min(1).optional(),
});

export type Config = z.infer<typeof schema>;

/** BACKUP_STANZA set: the worker backs the cluster up with pgBackRest (worker/tasks/backup.ts) */
export function backupsOf(config: Config): { command: string[]; config?: string; stanza: string } | undefined {
  if (!config.BACKUP_STANZA) return undefined;
  return { command: config.PGBACKREST_COMMAND.split(/\s+/).filter(Boolean), config: config.PGBACKREST_CONFIG, stanza: config.BACKUP_STANZA };
}

/**
 * BACKUP_STANZA set: what a restore drill needs (worker/tasks/restore-drill.ts, pgcomply backup
 * drill): pgBackRest, room for a scratch copy (BACKUP_DRILL_DIR, default the OS temp directory),
 * the tombstone pepper for the erasure journal, and the anchors to check the restored chain by.
 */
export function drillsOf(config: Config): RestoreDrills | undefined {
  const tool = backupsOf(config);
  if (!tool) return undefined;
  const pepper = tombstonePepperSource(config);
  // a drill reads the pepper; it never makes one
  return { tool, workDir: config.BACKUP_DRILL_DIR ?? os.tmpdir(), pepper: 'file' in pepper ? { ...pepper, create: false } : pepper, anchors: anchorPublishingOf(config) };
}

const list = (value: string) => value.split(',').map((v) => v.trim()).filter(Boolean);

/** what a token must prove for each privileged role (server/auth/assurance.ts) */
export function assuranceOf(config: Config): { mfaAmr: string[]; mfaAcr: string[]; roles: string[]; stepUpMaxAgeSeconds: number } {
  return { mfaAmr: list(config.MFA_AMR_VALUES), mfaAcr: list(config.MFA_ACR_VALUES), roles: list(config.MFA_ROLES), stepUpMaxAgeSeconds: config.STEP_UP_MAX_AGE_SECONDS };
}

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // an empty variable (as docker-compose passes for an unset one) means unset
  const given = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = schema.safeParse(given);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ConfigError(`${issue.path.join('.') || 'configuration'}: ${issue.message}`);
  }
  const config = result.data;
  const developmentSecret = !config.AUTH_JWKS_URL && !config.AUTH_JWT_SECRET;
  if (developmentSecret && config.NODE_ENV === 'production') {
    throw new ConfigError('AUTH_JWKS_URL (or AUTH_JWT_SECRET) must be set in production');
  }
  // the development secret is published in the source: anyone who reaches the port could
  // mint a DPO token, so it serves loopback only
  if (developmentSecret && !isLoopback(config.HOST)) {
    throw new ConfigError(`HOST ${config.HOST} is not a loopback address: set AUTH_JWKS_URL or AUTH_JWT_SECRET (openssl rand -hex 32) before listening on it`);
  }
  if (!config.ALLOWED_HOSTS && config.NODE_ENV === 'production' && !isLoopback(config.HOST)) {
    throw new ConfigError(`HOST ${config.HOST} is not a loopback address: set ALLOWED_HOSTS to the host names clients use (pgcomply.example.com), so a page that rebinds its own name to this server is refused`);
  }
  if (Boolean(config.TLS_CERT_FILE) !== Boolean(config.TLS_KEY_FILE)) {
    throw new ConfigError('TLS_CERT_FILE and TLS_KEY_FILE go together: give both (HTTPS) or neither');
  }
  if (config.TLS_CERT_FILE && config.TRUST_PROXY_TLS) {
    throw new ConfigError('TLS_CERT_FILE serves HTTPS here, TRUST_PROXY_TLS=true says a proxy terminates it: set one');
  }
  // in production, the API's traffic (tokens, health records) never crosses a network in the clear
  if (config.NODE_ENV === 'production' && !isLoopback(config.HOST) && !config.TLS_CERT_FILE && !config.TRUST_PROXY_TLS) {
    throw new ConfigError(`HOST ${config.HOST} is not a loopback address: serve HTTPS (TLS_CERT_FILE and TLS_KEY_FILE), or set TRUST_PROXY_TLS=true when a TLS-terminating proxy is in front`);
  }
  if (config.REQUIRE_TLS) {
    const urls = { DATABASE_URL: config.DATABASE_URL, SERVER_DATABASE_URL: config.SERVER_DATABASE_URL, WORKER_DATABASE_URL: config.WORKER_DATABASE_URL };
    if (!Object.values(urls).some(Boolean)) {
      throw new ConfigError('REQUIRE_TLS=true: the embedded PostgreSQL has no TLS; set DATABASE_URL (or SERVER_DATABASE_URL and WORKER_DATABASE_URL) with sslmode=verify-full');
    }
    try {
      for (const [name, url] of Object.entries(urls)) if (url) refuseUnencrypted(name, url);
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
  }
  if (config.OIDC_CLIENT_ID && (!config.AUTH_JWKS_URL || !config.AUTH_ISSUER)) {
    throw new ConfigError('OIDC_CLIENT_ID (the privacy center\'s sign-in) needs AUTH_ISSUER and AUTH_JWKS_URL of the same identity provider');
  }
  if (config.SCIM_CONNECTORS) propagationDeliveryOf(config);
  if (config.ALERT_WEBHOOK_URL && !config.ALERT_WEBHOOK_SECRET) {
    throw new ConfigError('ALERT_WEBHOOK_URL needs ALERT_WEBHOOK_SECRET (openssl rand -hex 32): receivers check each alert\'s signature');
  }
  try {
    if (config.TOMBSTONE_PEPPER) checkKeyring(config.TOMBSTONE_PEPPER, 'TOMBSTONE_PEPPER');
    if (config.PHI_MASTER_KEY) parseKeyRing(config.PHI_MASTER_KEY, 'PHI_MASTER_KEY');
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  return config;
}

/** the Host names the server answers for: ALLOWED_HOSTS, else the loopback names */
export function allowedHostsOf(config: Config): string[] {
  return config.ALLOWED_HOSTS ? config.ALLOWED_HOSTS.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean)
    : LOOPBACK_HOST_NAMES;
}

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare.startsWith('::ffff:127.');
}

/** where the server finds the PHI master keys (core/keys/master-keys.ts); required in production */
export function phiMasterKeySource(config: Config): MasterKeySource {
  try {
    return masterKeySource(config, config.PGCOMPLY_DATA_DIR, config.NODE_ENV === 'production');
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

/** where this process finds the tombstone pepper (db/pepper.ts) */
export function tombstonePepperSource(config: Config): PepperSource {
  try {
    return pepperSource(config, config.PGCOMPLY_DATA_DIR, config.NODE_ENV === 'production');
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

/** the anchor signing key (core/anchors/anchors.ts): made under the data directory only in development */
export function anchorKeyOf(config: Config): AnchorKey {
  const production = config.NODE_ENV === 'production';
  if (production && !config.ANCHOR_SIGNING_KEY && !config.ANCHOR_SIGNING_KEY_FILE) {
    throw new ConfigError('NODE_ENV=production: set ANCHOR_SIGNING_KEY or ANCHOR_SIGNING_KEY_FILE (an Ed25519 key: openssl genpkey -algorithm ed25519)');
  }
  return loadAnchorKey(config, config.PGCOMPLY_DATA_DIR, { create: !production });
}

/**
 * Where the worker publishes anchors: ANCHOR_DIR, in development <data dir>/anchors. Tamper
 * evidence that is off by default is none, so production refuses to start without the directory
 * and the key.
 */
export function anchorPublishingOf(config: Config): { dir: string; key: AnchorKey } {
  if (config.NODE_ENV === 'production' && !config.ANCHOR_DIR) {
    throw new ConfigError('NODE_ENV=production: set ANCHOR_DIR, where the worker writes its signed anchors (storage the database\'s superuser cannot rewrite)');
  }
  return { dir: config.ANCHOR_DIR ?? path.join(config.PGCOMPLY_DATA_DIR, 'anchors'), key: anchorKeyOf(config) };
}

/** how the worker reaches other systems with a subject's requests (worker/tasks/deliver-propagation.ts) */
export function propagationDeliveryOf(config: Config): PropagationSettings {
  let scim: Record<string, ScimConnection> = {};
  if (config.SCIM_CONNECTORS) {
    const parsed = scimConnections.safeParse((() => {
      try {
        return JSON.parse(config.SCIM_CONNECTORS!);
      } catch {
        return undefined;
      }
    })());
    if (!parsed.success) {
      throw new ConfigError(`SCIM_CONNECTORS must be JSON: {"<system>": {"url": "https://…/scim/v2", "token": "…", "match": "externalId" | "userName" | "id"}} (${parsed.error.issues[0]?.message})`);
    }
    scim = parsed.data;
  }
  return { secret: config.PROPAGATION_SECRET, callbackUrl: config.PROPAGATION_CALLBACK_URL, scim, leaseSeconds: config.PROPAGATION_LEASE_SECONDS };
}

/** one SCIM 2.0 service provider: its base URL, bearer token, and which attribute carries the subject id */
const scimConnection = z.strictObject({
  url: z.url(),
  token: z.string().min(1),
  match: z.enum(['externalId', 'userName', 'id']).default('externalId'),
});
const scimConnections = z.record(z.string().regex(/^[a-z][a-z0-9_]{0,62}$/), scimConnection);
export type ScimConnection = z.infer<typeof scimConnection>;

export interface PropagationSettings {
  /** PROPAGATION_SECRET: each system's signing secret derives from it (core/signing.ts) */
  secret?: string;
  /** where a system calls back, carried in each webhook body */
  callbackUrl?: string;
  /** SCIM_CONNECTORS: the address and token of each scim system, by its key */
  scim: Record<string, ScimConnection>;
  leaseSeconds: number;
}

/** where the worker sends the audit trail (worker/tasks/siem-feed.ts); undefined: no feed */
export function siemFeedOf(config: Config): SiemFeedSettings | undefined {
  if (!config.SIEM_SYSLOG_URL) return undefined;
  const url = new URL(config.SIEM_SYSLOG_URL.replace(/^tls:/, 'https:'));
  return { host: url.hostname, port: Number(url.port), caFile: config.SIEM_SYSLOG_CA_FILE, batch: config.SIEM_BATCH };
}

/** ARCHIVE_TO set: where the worker's monthly archive_audit job and pgcomply archive put bundles (core/archive/) */
export function archiveStoreOf(config: Config, location = config.ARCHIVE_TO): ArchiveStore | undefined {
  if (!location) return undefined;
  return openArchiveStore(location, { endpoint: config.ARCHIVE_S3_ENDPOINT, region: config.ARCHIVE_S3_REGION,
    forcePathStyle: config.ARCHIVE_S3_FORCE_PATH_STYLE === undefined ? undefined : config.ARCHIVE_S3_FORCE_PATH_STYLE === 'true',
    serverSideEncryption: config.ARCHIVE_S3_SSE, kmsKeyId: config.ARCHIVE_S3_SSE_KMS_KEY_ID, objectLockMode: config.ARCHIVE_S3_OBJECT_LOCK });
}

/** ARCHIVE_TO set: the worker's monthly archive job, its bundles signed with the anchor key */
export function auditArchivingOf(config: Config): { store: ArchiveStore; key: AnchorKey } | undefined {
  const store = archiveStoreOf(config);
  return store && { store, key: anchorKeyOf(config) };
}

export interface SiemFeedSettings {
  host: string;
  port: number;
  /** the CA that signed the SIEM's certificate; the system's CAs when not given */
  caFile?: string;
  /** events per write */
  batch: number;
}

/** where the worker delivers alerts (worker/tasks/deliver-alerts.ts) */
export function alertDeliveryOf(config: Config) {
  return { webhookUrl: config.ALERT_WEBHOOK_URL, webhookSecret: config.ALERT_WEBHOOK_SECRET, leaseSeconds: config.ALERT_LEASE_SECONDS };
}

/**
 * how the pages sign people in. 'development': tokens signed with the development secret, which
 * anyone can already do; 'oidc': authorization code with PKCE against the issuer; 'token': a
 * bearer token pasted in (AUTH_JWT_SECRET, or JWKS without OIDC_CLIENT_ID)
 */
export type WebAuth = { mode: 'development' } | { mode: 'token' } | { mode: 'oidc'; issuer: string; clientId: string; scope: string };

/** the Host names requests may name when ALLOWED_HOSTS is not set (DNS rebinding) */
export const LOOPBACK_HOST_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** how the privacy center and DPO console sign people in (server/pages.ts) */
export function webAuthOf(config: Config): WebAuth {
  if (config.OIDC_CLIENT_ID && config.AUTH_ISSUER) return { mode: 'oidc', issuer: config.AUTH_ISSUER, clientId: config.OIDC_CLIENT_ID, scope: config.OIDC_SCOPE };
  return !config.AUTH_JWKS_URL && !config.AUTH_JWT_SECRET ? { mode: 'development' } : { mode: 'token' };
}
