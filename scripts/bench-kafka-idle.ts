/**
 * `npm run bench:kafka-idle`: what idle kafkajs connections cost, before and after the
 * patch of shared/kafkajs-patches.ts (tulios/kafkajs#1751). --producers (default 6)
 * producers connect to the local broker and send nothing; this process's CPU is measured
 * over --seconds (default 5) with kafkajs as released, then again after the patch is
 * applied (it replaces a prototype method, so the same connections are measured).
 * Imports kafkajs directly, and nothing that imports shared/kafka.ts (bench-common does),
 * which would patch at import.
 *
 *   npm run bench:kafka-idle [-- --producers 6] [-- --seconds 5]
 */
import kafkajs from 'kafkajs';
import { applyKafkajsPatches } from '../shared/kafkajs-patches.js';

/** The value of option `name` when it is a positive number; else `fallback`. */
function arg(name: string, fallback: number): number {
  const v = Number(process.argv[process.argv.indexOf(name) + 1]);
  return process.argv.includes(name) && v > 0 ? v : fallback;
}
const PRODUCERS = arg('--producers', 6);
const SECONDS = arg('--seconds', 5);
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** CPU ms this process spends per wall-clock second over SECONDS. */
async function idleCpuMsPerSecond(): Promise<number> {
  const c0 = cpuSeconds();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  return ((cpuSeconds() - c0) * 1000) / ((Date.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const brokers = (process.env['SLUICE_KAFKA_BROKERS'] || '127.0.0.1:9092').split(',');
  const kafka = new kafkajs.Kafka({ brokers, clientId: 'sluice-bench-idle', logLevel: kafkajs.logLevel.NOTHING });
  const producers = Array.from({ length: PRODUCERS }, () => kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner }));
  // Node >= 23 warns about the released method's negative timeout once per process: expected here.
  process.on('warning', (w) => w.name === 'TimeoutNegativeWarning' || console.warn(w));
  try {
    for (const p of producers) await p.connect();
    await new Promise((r) => setTimeout(r, 1000));
    const released = await idleCpuMsPerSecond();
    applyKafkajsPatches();
    await new Promise((r) => setTimeout(r, 200));
    const patched = await idleCpuMsPerSecond();
    console.log(`| ${PRODUCERS} idle producers, CPU ms per second | kafkajs 2.2.4 as released: ${released.toFixed(1)} | patched: ${patched.toFixed(1)} |`);
  } finally {
    for (const p of producers) await p.disconnect();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
