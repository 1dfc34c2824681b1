/**
 * Classified errors. Every error Sluice raises on purpose carries a stable code
 * (`SLUICE_ERR_<AREA>_<PROBLEM>`), an optional cause, and whether a retry can help.
 *
 * - PermanentError: the same input will fail again. The runner sends it to the
 *   dead-letter topic with its code and the original bytes, and moves on.
 * - RetryableError: the failure is in the environment (a server down, a timeout).
 *   The runner backs off with jitter and does not commit.
 * - ConfigError: start-up configuration is invalid; main() prints it and exits 78.
 */
export class SluiceError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

export class PermanentError extends SluiceError {
  constructor(code: string, message: string, cause?: unknown) {
    super(code, message, { cause, retryable: false });
  }
}

export class RetryableError extends SluiceError {
  constructor(code: string, message: string, cause?: unknown) {
    super(code, message, { cause, retryable: true });
  }
}

/**
 * Not an error but "not yet": the input may be processed at `untilMs` (wall clock), not
 * before (a delayed tenant event, shared/tenants.ts). The PipelineRunner waits for it
 * without counting a retry when it is the first input of a batch, and otherwise commits
 * the inputs before it and fetches again from it (so nothing processed waits behind
 * it). Only stages run on Kafka throw it (the MemoryRunner fails on it, as on any
 * retryable error).
 */
export class DeferredError extends SluiceError {
  constructor(
    readonly untilMs: number,
    message: string,
  ) {
    super('SLUICE_DEFERRED', message, { retryable: true });
  }
}

export class ConfigError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_CONFIG_INVALID', message);
  }
}

/** Error codes used across services; a stage may add its own in the same shape. */
export const ErrorCodes = {
  decodeAvro: 'SLUICE_ERR_CODEC_DECODE',
  encodeAvro: 'SLUICE_ERR_CODEC_ENCODE',
  stageUnexpected: 'SLUICE_ERR_STAGE_UNEXPECTED',
  inputEmpty: 'SLUICE_ERR_INPUT_EMPTY',
  inputTooLarge: 'SLUICE_ERR_INPUT_TOO_LARGE',
  esMapping: 'SLUICE_ERR_ES_MAPPING',
  esUnavailable: 'SLUICE_ERR_ES_UNAVAILABLE',
  s3Unavailable: 'SLUICE_ERR_S3_UNAVAILABLE',
  parquetEncode: 'SLUICE_ERR_PARQUET_ENCODE',
  kafkaProduce: 'SLUICE_ERR_KAFKA_PRODUCE',
  registryUnavailable: 'SLUICE_ERR_REGISTRY_UNAVAILABLE',
  registryTls: 'SLUICE_ERR_REGISTRY_TLS',
  registryAuth: 'SLUICE_ERR_REGISTRY_AUTH',
} as const;

/**
 * Classify anything thrown. Unknown errors from inside a pure stage are permanent
 * (the stage is deterministic, so the same input throws again); the runner uses
 * `fromIo` for errors from I/O, which are retryable unless proven otherwise.
 */
export function classify(err: unknown, fallbackCode: string = ErrorCodes.stageUnexpected): SluiceError {
  if (err instanceof SluiceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new PermanentError(fallbackCode, message, err);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
