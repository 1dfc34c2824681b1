/**
 * A small Prometheus registry (text exposition format 0.0.4): counters, gauges and
 * histograms with bounded label sets. The runner emits one vocabulary for every
 * service: sluice_records_received_total, _sent_total, _dropped_total{reason},
 * _failed_total{code}, _dlq_total, sluice_batch_size, sluice_commit_lag.
 */
type Labels = Readonly<Record<string, string>>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys.map((k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',');
}

/** Guards against unbounded label cardinality: past this many series, new ones fold into "other". */
const MAX_SERIES = 200;

abstract class Metric {
  constructor(readonly name: string, readonly help: string, readonly type: string) {}
  abstract render(): string;
}

export class Counter extends Metric {
  private readonly values = new Map<string, number>();
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels: Labels = {}, by = 1): void {
    let key = labelKey(labels);
    if (!this.values.has(key) && this.values.size >= MAX_SERIES) key = 'overflow="true"';
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  /** Sum over all series. */
  total(): number {
    let t = 0;
    for (const v of this.values.values()) t += v;
    return t;
  }
  render(): string {
    if (this.values.size === 0) return `${this.name} 0`;
    return [...this.values].map(([k, v]) => `${this.name}${k ? `{${k}}` : ''} ${v}`).join('\n');
  }
}

export class Gauge extends Metric {
  private readonly values = new Map<string, number>();
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }
  set(value: number, labels: Labels = {}): void {
    const key = labelKey(labels);
    if (!this.values.has(key) && this.values.size >= MAX_SERIES) return;
    this.values.set(key, value);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string {
    if (this.values.size === 0) return `${this.name} 0`;
    return [...this.values].map(([k, v]) => `${this.name}${k ? `{${k}}` : ''} ${v}`).join('\n');
  }
}

export class Histogram extends Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(name: string, help: string, private readonly bounds: readonly number[]) {
    super(name, help, 'histogram');
    this.counts = new Array<number>(bounds.length).fill(0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    for (let i = 0; i < this.bounds.length; i++) if (value <= (this.bounds[i] as number)) this.counts[i] = (this.counts[i] as number) + 1;
  }
  render(): string {
    const lines = this.bounds.map((b, i) => `${this.name}_bucket{le="${b}"} ${this.counts[i]}`);
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join('\n');
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }
  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help));
  }
  histogram(name: string, help: string, bounds: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, bounds));
  }
  private add<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }
  render(): string {
    return this.metrics.map((m) => `# HELP ${m.name} ${m.help}\n# TYPE ${m.name} ${m.type}\n${m.render()}`).join('\n') + '\n';
  }
}

/** The runner's vocabulary, the same in every service. */
export function runnerMetrics(registry: Registry) {
  return {
    received: registry.counter('sluice_records_received_total', 'Records consumed from Kafka.'),
    sent: registry.counter('sluice_records_sent_total', 'Records written downstream (Kafka, Elasticsearch, S3) and acknowledged.'),
    dropped: registry.counter('sluice_records_dropped_total', 'Records a stage dropped on purpose, by reason.'),
    failed: registry.counter('sluice_records_failed_total', 'Records that failed, by error code.'),
    dlq: registry.counter('sluice_records_dlq_total', 'Records sent to the dead-letter topic.'),
    retries: registry.counter('sluice_retries_total', 'Retried I/O operations, by operation.'),
    batchSize: registry.histogram('sluice_batch_size', 'Records per processed batch.', [1, 10, 100, 500, 1000, 5000, 10000]),
    commitLag: registry.gauge('sluice_commit_lag', 'High watermark minus committed offset, per partition.'),
    paused: registry.counter('sluice_backpressure_pauses_total', 'Times a partition was paused because its previous batch was still being written.'),
    circuitOpen: registry.gauge('sluice_sink_circuit_open', '1 while the destination is failing and fetching is paused, else 0.'),
  };
}
export type RunnerMetrics = ReturnType<typeof runnerMetrics>;
