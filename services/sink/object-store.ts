/**
 * S3-compatible object storage (AWS SDK v3). Errors are classified: throttling, 5xx and
 * connection failures are retryable; anything else (403, no such bucket) is permanent.
 *
 * An object larger than `multipartBytes` is uploaded in parts of that size (S3 allows at
 * most 5 GiB in one PUT and parts of 5 MiB and up); the object appears only when the
 * upload is completed, whole, and an upload that fails is aborted, so a reader never
 * sees part of an object.
 */
import {
  S3Client,
  PutObjectCommand,
  GetObjectCommand,
  DeleteObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  CompleteMultipartUploadCommand,
  AbortMultipartUploadCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { RetryableError, PermanentError, ErrorCodes, errorMessage } from '../../shared/errors.js';

export interface ObjectStore {
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  /** The object's bytes, or null when there is no such key. */
  get(key: string): Promise<Buffer | null>;
  /** Delete `key`; deleting a missing key succeeds (S3 semantics). */
  delete(key: string): Promise<void>;
  close(): void;
}

export interface S3Options {
  endpoint: string;
  region: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  /**
   * 'static' (default): sign with accessKey/secretKey. 'chain': the AWS SDK's default
   * credential chain instead (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the
   * shared config and credentials files, web identity tokens as IRSA mounts them, ECS and
   * EC2 instance metadata), refreshed by the SDK as they expire.
   */
  credentials?: 'static' | 'chain';
  forcePathStyle: boolean;
  /** Bodies above this size go up as a multipart upload with parts of this size. Default 16 MiB. */
  multipartBytes?: number;
}

export function createS3Client(o: Omit<S3Options, 'bucket'>): S3Client {
  const config: S3ClientConfig = {
    region: o.region,
    forcePathStyle: o.forcePathStyle,
    ...(o.credentials === 'chain' ? {} : { credentials: { accessKeyId: o.accessKey, secretAccessKey: o.secretKey } }),
    // S3-compatible servers differ in their support for the SDK's default CRC32
    // trailers; checksums only where the API requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  };
  if (o.endpoint) config.endpoint = o.endpoint;
  return new S3Client(config);
}

function isRetryable(err: unknown): boolean {
  const e = err as { $metadata?: { httpStatusCode?: number }; name?: string; code?: string };
  const status = e.$metadata?.httpStatusCode;
  if (status === undefined) return true; // no HTTP response at all: connection refused, reset, timeout
  return status === 429 || status >= 500 || e.name === 'SlowDown';
}

export function createObjectStore(o: S3Options): ObjectStore {
  const client = createS3Client(o);
  const fail = (op: string, key: string, err: unknown) => {
    const msg = `S3 ${op} s3://${o.bucket}/${key} failed: ${errorMessage(err)}`;
    return isRetryable(err) ? new RetryableError(ErrorCodes.s3Unavailable, msg, err) : new PermanentError(ErrorCodes.s3Unavailable, msg, err);
  };
  return {
    async put(key, body, contentType) {
      const partSize = Math.max(5 * 1024 * 1024, o.multipartBytes ?? 16 * 1024 * 1024);
      if (body.length <= partSize) {
        try {
          await client.send(new PutObjectCommand({ Bucket: o.bucket, Key: key, Body: body, ContentType: contentType }));
        } catch (err) {
          throw fail('put', key, err);
        }
        return;
      }
      let uploadId: string | undefined;
      try {
        uploadId = (await client.send(new CreateMultipartUploadCommand({ Bucket: o.bucket, Key: key, ContentType: contentType }))).UploadId;
        const parts: Array<{ ETag: string; PartNumber: number }> = [];
        for (let start = 0, n = 1; start < body.length; start += partSize, n++) {
          const r = await client.send(new UploadPartCommand({ Bucket: o.bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: body.subarray(start, start + partSize) }));
          parts.push({ ETag: r.ETag ?? '', PartNumber: n });
        }
        await client.send(new CompleteMultipartUploadCommand({ Bucket: o.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      } catch (err) {
        if (uploadId) await client.send(new AbortMultipartUploadCommand({ Bucket: o.bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
        throw fail('multipart put', key, err);
      }
    },
    async get(key) {
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: o.bucket, Key: key }));
        return Buffer.from(await res.Body!.transformToByteArray());
      } catch (err) {
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return null;
        throw fail('get', key, err);
      }
    },
    async delete(key) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket: o.bucket, Key: key }));
      } catch (err) {
        throw fail('delete', key, err);
      }
    },
    close() {
      client.destroy();
    },
  };
}
