/**
 * Signed anchors: the newest seal's number and hash (and the newest root's, where the root chain
 * seals a Citus cluster's chains), with the erasures since the last
 * anchor (peppered digests), signed with Ed25519 and appended to a JSON-lines log kept outside the
 * database. A superuser who rewrites the whole chain consistently still changes the hash of a
 * seal an anchor holds; verify --anchors finds it. The key is ANCHOR_SIGNING_KEY (PKCS#8 PEM) or
 * ANCHOR_SIGNING_KEY_FILE; in development one is made under the data directory.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Sql } from 'postgres';

export interface AnchorState {
  database: string;
  seal_no: string;
  seal_hash: string;
  last_row_id: string;
  sealed_at: string;
  /** the newest root of the root chain, where one was made (a Citus cluster's chains per shard) */
  root_no?: string;
  root_hash?: string;
  erasures: { subject_digest: string; erased_at: string }[];
}

/** what an anchor reads, for the API (postgres.js) and the worker (pg) alike: the newest seal, nothing before the first */
export const ANCHOR_DIGEST_QUERY = 'select current_database() as database, d.* from compliance.audit_digest() d where d.seal_no is not null';
/** the erasures after $1 (null: all of them) */
export const ANCHOR_JOURNAL_QUERY = "select subject_digest, erased_at from compliance.erasure_journal(coalesce($1::timestamptz, '-infinity'))";

/** the state from compliance.audit_digest() and compliance.erasure_journal(), as either driver returns them */
export function toAnchorState(database: string,
  digest: { seal_no: unknown; seal_hash: string; last_row_id: unknown; sealed_at: Date; root_no?: unknown; root_hash?: string | null },
  erasures: { subject_digest: string; erased_at: Date }[]): AnchorState {
  return { database, seal_no: String(digest.seal_no), seal_hash: digest.seal_hash, last_row_id: String(digest.last_row_id),
    sealed_at: digest.sealed_at.toISOString(),
    ...(digest.root_no != null && digest.root_hash ? { root_no: String(digest.root_no), root_hash: digest.root_hash } : {}),
    erasures: erasures.map((e) => ({ subject_digest: e.subject_digest, erased_at: e.erased_at.toISOString() })) };
}

export interface Anchor extends AnchorState {
  version: 1;
  anchored_at: string;
  key_id: string;
  signature: string;
}

export interface AnchorKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
  /** SHA-256 of the public key's SubjectPublicKeyInfo, hex; keyId is its first 16 digits */
  fingerprint: string;
}

export class AnchorError extends Error {}

export function toAnchorKey(privateKey: KeyObject): AnchorKey {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new AnchorError('the anchor signing key must be an Ed25519 key');
  const publicKey = createPublicKey(privateKey);
  const fingerprint = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
  return { privateKey, publicKey, keyId: fingerprint.slice(0, 16), fingerprint };
}

/** the signing key from the environment, or the development one under dataDir (made on first use when allowed) */
export function loadAnchorKey(env: { ANCHOR_SIGNING_KEY?: string; ANCHOR_SIGNING_KEY_FILE?: string }, dataDir: string, options: { create: boolean }): AnchorKey {
  try {
    if (env.ANCHOR_SIGNING_KEY) return toAnchorKey(createPrivateKey(env.ANCHOR_SIGNING_KEY.replace(/\\n/g, '\n')));
    const file = env.ANCHOR_SIGNING_KEY_FILE ?? path.join(dataDir, 'anchor-signing-key.pem');
    if (!existsSync(file)) {
      if (env.ANCHOR_SIGNING_KEY_FILE || !options.create) throw new AnchorError(`the anchor signing key file ${file} does not exist`);
      mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      const { privateKey } = generateKeyPairSync('ed25519');
      writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    }
    return toAnchorKey(createPrivateKey(readFileSync(file)));
  } catch (error) {
    if (error instanceof AnchorError) throw error;
    throw new AnchorError(`the anchor signing key cannot be read: ${(error as Error).message}`);
  }
}

/** what an anchor's signature covers: every field but the signature, in a fixed order */
export function signedContent(anchor: Omit<Anchor, 'signature'>): Omit<Anchor, 'signature'> {
  const { version, database, seal_no, seal_hash, last_row_id, sealed_at, root_no, root_hash, erasures, anchored_at, key_id } = anchor;
  // each erasure's fields in their own order too: jsonb (where the chain keeps a copy) sorts keys;
  // an anchor without a root signs what it did before there were roots
  return { version, database, seal_no, seal_hash, last_row_id, sealed_at, ...(root_no !== undefined ? { root_no, root_hash } : {}),
    erasures: erasures.map((e) => ({ subject_digest: e.subject_digest, erased_at: e.erased_at })), anchored_at, key_id };
}

function signedBytes(anchor: Omit<Anchor, 'signature'>): Buffer {
  return Buffer.from(JSON.stringify(signedContent(anchor)));
}

/** the arguments of compliance.record_anchor for an anchor written somewhere */
export function anchorRecord(anchor: Anchor, key: AnchorKey, destination: string) {
  return { seal_no: Number(anchor.seal_no), seal_hash: anchor.seal_hash, key_fingerprint: key.fingerprint, signature: anchor.signature,
    signed: signedContent(anchor), destination };
}

/**
 * The anchors the chain records (audit.anchored rows), each checked against the public key: a
 * row that names another key, or whose signature does not hold over what it says was signed, was
 * recorded by someone who did not write that anchor.
 */
export async function recordedAnchorFindings(sql: Sql, key: AnchorKey): Promise<AnchorFinding[]> {
  const rows = await sql<{ id: string; details: { seal_no?: number; key_fingerprint?: string; signature?: string; signed?: Omit<Anchor, 'signature'> } }[]>`
    select id::text, details from compliance.audit_logs where action = 'audit.anchored' and outcome = 'success' order by id`;
  const findings: AnchorFinding[] = [];
  for (const { id, details } of rows) {
    const sealNo = Number(details.seal_no);
    const signed = details.signed;
    const holds = Boolean(signed && details.signature && details.key_fingerprint === key.fingerprint)
      && signatureHolds({ ...signed!, signature: details.signature! } as Anchor, key);
    if (!holds) {
      findings.push({ kind: 'anchor_signature', seal_no: sealNo,
        detail: `the anchor the chain records in audit row ${id} (seal ${sealNo}) is not signed by this key (${key.keyId})` });
    }
  }
  return findings;
}

export function signAnchor(state: AnchorState, key: AnchorKey, at = new Date()): Anchor {
  const unsigned = { version: 1 as const, ...state, anchored_at: at.toISOString(), key_id: key.keyId };
  return { ...unsigned, signature: sign(null, signedBytes(unsigned), key.privateKey).toString('base64') };
}

export function signatureHolds(anchor: Anchor, key: AnchorKey): boolean {
  if (anchor.key_id !== key.keyId) return false;
  return verify(null, signedBytes(anchor), key.publicKey, Buffer.from(anchor.signature, 'base64'));
}

/** the anchor log's name in ANCHOR_DIR, where the worker appends (worker/tasks/publish-anchor.ts) */
export const ANCHOR_FILE = 'anchors.jsonl';

export function readAnchors(file: string): Anchor[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((line) => line.trim()).map((line, i) => {
    try {
      return JSON.parse(line) as Anchor;
    } catch {
      throw new AnchorError(`${file}, line ${i + 1}: not an anchor (JSON expected)`);
    }
  });
}

export function appendAnchor(file: string, anchor: Anchor): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  appendFileSync(file, `${JSON.stringify(anchor)}\n`);
}

/** when the erasures an anchor carries begin: after the newest one the log already holds */
export function journalSince(previous: Anchor[]): string | null {
  const times = previous.flatMap((a) => a.erasures.map((e) => e.erased_at));
  return times.length ? times.sort().at(-1)! : null;
}

export interface AnchorFinding {
  kind: 'anchor_signature' | 'anchor_mismatch' | 'anchor_missing';
  seal_no: number;
  /** where the finding is about the root the anchor names */
  root_no?: number;
  detail: string;
}

/**
 * Checks each anchor against the chain as it is now: its signature, then that its seal is still
 * there with the same hash. A seal before the chain's first kept seal was removed by retention,
 * which the chain itself accounts for (verify_audit_log's start check).
 */
export function checkAnchors(anchors: Anchor[], key: AnchorKey, seals: Map<string, string>, firstKeptSeal: number,
  roots: Map<string, string> = new Map()): AnchorFinding[] {
  const findings: AnchorFinding[] = [];
  for (const anchor of anchors) {
    const sealNo = Number(anchor.seal_no);
    if (!signatureHolds(anchor, key)) {
      findings.push({ kind: 'anchor_signature', seal_no: sealNo, detail: `the anchor of seal ${sealNo} made ${anchor.anchored_at} is not signed by this key (${key.keyId})` });
      continue;
    }
    const now = seals.get(anchor.seal_no);
    if (now === undefined) {
      if (sealNo >= firstKeptSeal) findings.push({ kind: 'anchor_missing', seal_no: sealNo, detail: `seal ${sealNo}, anchored ${anchor.anchored_at}, is not in the chain` });
    } else if (now !== anchor.seal_hash) {
      findings.push({ kind: 'anchor_mismatch', seal_no: sealNo, detail: `seal ${sealNo} has hash ${now}, the anchor of ${anchor.anchored_at} holds ${anchor.seal_hash}: the chain was rewritten` });
    }
    if (anchor.root_no === undefined) continue;
    // the root chain is never trimmed: a root an anchor names is there, with that hash
    const rootNo = Number(anchor.root_no);
    const root = roots.get(anchor.root_no);
    if (root === undefined) {
      findings.push({ kind: 'anchor_missing', seal_no: sealNo, root_no: rootNo, detail: `root ${rootNo}, anchored ${anchor.anchored_at}, is not in the root chain` });
    } else if (root !== anchor.root_hash) {
      findings.push({ kind: 'anchor_mismatch', seal_no: sealNo, root_no: rootNo,
        detail: `root ${rootNo} has hash ${root}, the anchor of ${anchor.anchored_at} holds ${anchor.root_hash}: the root chain was rewritten` });
    }
  }
  return findings;
}

/**
 * An anchor log against the chain `sql` reaches (each anchored seal still there, unchanged, and
 * signed by this key), and every anchor that chain records (signed over what it says).
 */
export async function anchorFindingsIn(sql: Sql, anchors: Anchor[], key: AnchorKey): Promise<AnchorFinding[]> {
  const wanted = [...new Set(anchors.map((a) => a.seal_no))];
  const seals = await sql<{ seal_no: string; seal_hash: string }[]>`
    select seal_no::text, encode(seal_hash, 'hex') as seal_hash from compliance.audit_seals where placement = '' and seal_no = any(${wanted}::bigint[])`;
  const [first] = await sql<{ n: number | null }[]>`select min(seal_no)::int as n from compliance.audit_seals where placement = ''`;
  const wantedRoots = [...new Set(anchors.flatMap((a) => (a.root_no === undefined ? [] : [a.root_no])))];
  const roots = await sql<{ root_no: string; root_hash: string }[]>`
    select root_no::text, encode(root_hash, 'hex') as root_hash from compliance.audit_roots where root_no = any(${wantedRoots}::bigint[])`;
  return [...checkAnchors(anchors, key, new Map(seals.map((x) => [x.seal_no, x.seal_hash])), first!.n ?? Infinity,
    new Map(roots.map((r) => [r.root_no, r.root_hash]))),
    ...await recordedAnchorFindings(sql, key)];
}
