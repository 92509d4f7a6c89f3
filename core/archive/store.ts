/**
 * Where archive bundles are kept: a local directory, or an S3-compatible bucket (AWS S3, GCS's XML
 * API, MinIO) through @aws-sdk/client-s3. In a bucket, each bundle is written with server-side
 * encryption when asked for, and under object lock (retention mode) until its retention ends
 * where the bucket has object lock enabled; a bucket without it is said so, never pretended.
 */
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, GetObjectLockConfigurationCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
  type ServerSideEncryption } from '@aws-sdk/client-s3';
import { BUNDLE_SUFFIX } from './bundle.js';

export interface StoredBundle {
  uri: string;
  /** 'retention mode until …', or why there is none */
  objectLock: string;
}

export interface ArchiveStore {
  /** the location as the operator wrote it: a path or s3://bucket/prefix */
  location: string;
  put(name: string, file: string, retainUntil: Date): Promise<StoredBundle>;
  /** the URI a bundle of this name has here, as the chain records it */
  uriOf(name: string): string;
  get(name: string): Promise<Buffer>;
  /** the bundles' names, sorted */
  list(): Promise<string[]>;
}

export interface S3Options {
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  serverSideEncryption?: 'AES256' | 'aws:kms';
  kmsKeyId?: string;
  objectLockMode?: 'GOVERNANCE' | 'COMPLIANCE';
}

export class ArchiveStoreError extends Error {}

export function openArchiveStore(location: string, s3: S3Options = {}): ArchiveStore {
  const bucket = /^s3:\/\/([^/]+)\/?(.*)$/.exec(location);
  return bucket ? s3Store(location, bucket[1]!, bucket[2]!.replace(/\/+$/, ''), s3) : directoryStore(location);
}

function directoryStore(location: string): ArchiveStore {
  const dir = path.resolve(location);
  return {
    location,
    async put(name, file) {
      mkdirSync(dir, { recursive: true });
      // written beside, then renamed: a reader never sees half a bundle
      const target = path.join(dir, name);
      await copyFile(file, `${target}.partial`);
      renameSync(`${target}.partial`, target);
      return { uri: target, objectLock: 'not available in a local directory: keep it on write-once storage' };
    },
    uriOf: (name) => path.join(dir, name),
    async get(name) {
      return readFileSync(path.join(dir, name));
    },
    async list() {
      if (!existsSync(dir)) throw new ArchiveStoreError(`${location} does not exist`);
      return readdirSync(dir).filter((n) => n.endsWith(BUNDLE_SUFFIX)).sort();
    },
  };
}

function s3Store(location: string, bucket: string, prefix: string, options: S3Options): ArchiveStore {
  // checksums only where the operation needs them: S3-compatible servers (GCS, MinIO, older
  // ones) do not all read the SDK's default aws-chunked uploads with trailing checksums
  const client = new S3Client({ region: options.region ?? 'us-east-1', endpoint: options.endpoint, forcePathStyle: options.forcePathStyle ?? Boolean(options.endpoint),
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  const keyOf = (name: string) => (prefix ? `${prefix}/${name}` : name);
  const uriOf = (name: string) => `s3://${bucket}/${keyOf(name)}`;
  let lockEnabled: Promise<boolean> | undefined;
  // a bucket without object lock, or a server without the API, answers with an error: no lock then
  const bucketLocks = () => (lockEnabled ??= client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }))
    .then((r) => r.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled', () => false));
  return {
    location,
    async put(name, file, retainUntil) {
      const lock = options.objectLockMode && await bucketLocks();
      await client.send(new PutObjectCommand({
        Bucket: bucket, Key: keyOf(name), Body: createReadStream(file), ContentLength: statSync(file).size, ContentType: 'application/gzip',
        ServerSideEncryption: options.serverSideEncryption as ServerSideEncryption | undefined,
        SSEKMSKeyId: options.serverSideEncryption === 'aws:kms' ? options.kmsKeyId : undefined,
        ...(lock ? { ObjectLockMode: options.objectLockMode, ObjectLockRetainUntilDate: retainUntil } : {}),
      }));
      return { uri: uriOf(name),
        objectLock: lock ? `${options.objectLockMode!.toLowerCase()} mode until ${retainUntil.toISOString()}`
          : options.objectLockMode ? `not enabled on bucket ${bucket}` : 'not asked for (ARCHIVE_S3_OBJECT_LOCK)' };
    },
    uriOf,
    async get(name) {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: keyOf(name) }));
      return Buffer.from(await object.Body!.transformToByteArray());
    },
    async list() {
      const names: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix ? `${prefix}/` : undefined, ContinuationToken: token }));
        for (const o of page.Contents ?? []) if (o.Key?.endsWith(BUNDLE_SUFFIX)) names.push(o.Key.slice(prefix ? prefix.length + 1 : 0));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return names.sort();
    },
  };
}
