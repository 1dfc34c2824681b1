import { createRequire } from 'node:module';
import { applyKafkajsPatches } from './kafkajs-patches.js';

interface Queue {
  throttledUntil: number;
  pending: unknown[];
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checks: number;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

const RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as { prototype: Queue };

/** A queue with kafkajs's state fields and its (patched) scheduling method. */
function queue(throttledUntil: number, pending: unknown[]): Queue {
  const q = Object.create(RequestQueue.prototype) as Queue;
  Object.assign(q, { throttledUntil, pending, throttleCheckTimeoutId: null, checks: 0 });
  q.checkPendingRequests = () => {
    q.checks++;
  };
  return q;
}

describe('kafkajs RequestQueue patch (tulios/kafkajs#1751)', () => {
  beforeAll(() => applyKafkajsPatches());

  it('arms no timer when nothing is pending and no broker throttles (kafkajs 2.2.4 spins a 1 ms timer here)', () => {
    const q = queue(-1, []);
    q.scheduleCheckPendingRequests();
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('checks pending requests after the 10 ms interval', async () => {
    const q = queue(-1, ['request']);
    q.scheduleCheckPendingRequests();
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    await new Promise((r) => setTimeout(r, 40));
    expect(q.checks).toBe(1);
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('checks again when a throttle ends, also with nothing pending yet', async () => {
    const q = queue(Date.now() + 20, []);
    q.scheduleCheckPendingRequests();
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    await new Promise((r) => setTimeout(r, 60));
    expect(q.checks).toBe(1);
  });

  it('keeps one timer at a time', () => {
    const q = queue(-1, ['a']);
    q.scheduleCheckPendingRequests();
    const first = q.throttleCheckTimeoutId;
    q.scheduleCheckPendingRequests();
    expect(q.throttleCheckTimeoutId).toBe(first);
    clearTimeout(first!);
  });
});
