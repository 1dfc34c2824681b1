/**
 * S3-compatible object storage (AWS SDK v3). Errors are classified: throttling, 5xx and
 * connection failures are retryable; anything else (403, no such bucket) is permanent.
 */
import { S3Client, PutObjectCommand, type S3ClientConfig } from '@aws-sdk/client-s3';
import { RetryableError, PermanentError, ErrorCodes, errorMessage } from '../../shared/errors.js';

export interface ObjectStore {
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  close(): void;
}

export interface S3Options {
  endpoint: string;
  region: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  forcePathStyle: boolean;
}

export function createS3Client(o: Omit<S3Options, 'bucket'>): S3Client {
  const config: S3ClientConfig = {
    region: o.region,
    forcePathStyle: o.forcePathStyle,
    credentials: { accessKeyId: o.accessKey, secretAccessKey: o.secretKey },
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
  return {
    async put(key, body, contentType) {
      try {
        await client.send(new PutObjectCommand({ Bucket: o.bucket, Key: key, Body: body, ContentType: contentType }));
      } catch (err) {
        const msg = `S3 put s3://${o.bucket}/${key} failed: ${errorMessage(err)}`;
        throw isRetryable(err) ? new RetryableError(ErrorCodes.s3Unavailable, msg, err) : new PermanentError(ErrorCodes.s3Unavailable, msg, err);
      }
    },
    close() {
      client.destroy();
    },
  };
}
