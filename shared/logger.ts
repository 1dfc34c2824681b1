/**
 * pino JSON logs. One line at start (effective config, secrets redacted), one per
 * shutdown phase, and errors an operator must act on; never one line per record.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(service: string, level: string): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Defence in depth: credentials must never reach a log line, even by mistake.
    redact: { paths: ['*.password', '*.secret', '*.secretAccessKey', '*.apiKey', '*.authorization', 'password', 'secret'], censor: '***' },
  });
}
