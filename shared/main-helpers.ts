/**
 * The process edge shared by every main.ts: signal wiring and exit codes. Only main.ts
 * files call this (they are the only code that may exit).
 */
import { ConfigError, SluiceError } from './errors.js';
import type { RunningService } from './service.js';

/** EX_CONFIG from sysexits.h: configuration error. */
export const EXIT_CONFIG = 78;

export function runMain(start: () => Promise<RunningService>): void {
  start().then(
    (svc) => {
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        signals++;
        if (signals > 1) {
          process.stderr.write(`${sig} again: exiting now\n`);
          process.exit(130);
        }
        void svc.shutdown(sig).then(() => process.exit(0));
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      // A runner that stopped for good (logged at fatal there): shut down in order, exit 1.
      void svc.failed.then(() => svc.shutdown('a runner stopped for good').then(() => process.exit(1)));
    },
    (err: unknown) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
        process.exit(EXIT_CONFIG);
      }
      const code = err instanceof SluiceError ? ` (${err.code})` : '';
      process.stderr.write(`start-up failed${code}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
