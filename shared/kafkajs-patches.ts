/**
 * One fix to kafkajs 2.2.4 (its last release), applied once at import by shared/kafka.ts.
 *
 * RequestQueue.scheduleCheckPendingRequests (src/network/requestQueue/index.js) arms
 * `setTimeout(check, throttledUntil - Date.now())` after every response, also when nothing
 * is pending and no broker throttles: throttledUntil is -1, so the delay is minus the
 * epoch, which Node turns into 1 ms, and the check re-arms itself. Every idle broker
 * connection spins a 1 ms timer (6 idle producers: 60 ms of CPU a second, 5 with the patch: `npm run bench:kafka-idle`), and Node
 * ≥ 23 prints a TimeoutNegativeWarning at start. Upstream: tulios/kafkajs#1751, fixes
 * proposed in #1755/#1768, unreleased. The replacement below is #1768 with the review's
 * change: pending requests are checked after the throttle (or the 10 ms interval), and
 * with nothing pending and no throttle no timer is armed (a new request arms one).
 *
 * The patched method is checked by shared/kafkajs-patches.test.ts; if a kafkajs release
 * changes the file, the shape check below throws at start rather than patching blindly.
 */
import { createRequire } from 'node:module';

interface RequestQueueShape {
  throttledUntil: number;
  pending: unknown[];
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs's interval for re-checking a pending queue, ms (CHECK_PENDING_REQUESTS_INTERVAL). */
const CHECK_PENDING_REQUESTS_INTERVAL = 10;

let applied = false;

export function applyKafkajsPatches(): void {
  if (applied) return;
  const require = createRequire(import.meta.url);
  const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueShape };
  const original = RequestQueue.prototype.scheduleCheckPendingRequests;
  if (typeof original !== 'function' || !/throttledUntil - Date\.now\(\)/.test(original.toString())) {
    throw new Error('kafkajs RequestQueue.scheduleCheckPendingRequests is not the 2.2.4 one: review shared/kafkajs-patches.ts');
  }
  RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueueShape) {
    if (this.throttleCheckTimeoutId) return;
    let delay = this.throttledUntil - Date.now();
    if (this.pending.length > 0) delay = delay > 0 ? delay : CHECK_PENDING_REQUESTS_INTERVAL;
    else if (delay <= 0) return;
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, delay);
  };
  applied = true;
}
