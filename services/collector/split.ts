/**
 * Split the text of ONE Kafka message into events (pure).
 *
 * 1. physical lines (`\n` or `\r\n`); each is unwrapped from its shipper envelope;
 * 2. CRI partial lines (`P`) are joined, without a separator, with the following lines of
 *    the same stream up to the `F` line (an unterminated run becomes an event flagged
 *    `partial`);
 * 3. continuation lines (multiline.ts) join the preceding event of the same stream with
 *    `\n`; the event keeps the envelope fields of its first line.
 * Events come back in the order of their first line; events with an empty body are left out.
 */
import { K8S_LABELS } from '../../shared/kubernetes.js';
import { unwrapLine, type Unwrapped } from './envelopes.js';
import { LineGrouper } from './multiline.js';

export interface SplitEvent {
  /** 0-based number of the event's first physical line in the message. */
  line: number;
  envelope: Unwrapped;
  body: string;
  flags: string[];
}

interface Item {
  at: number;
  env: Unwrapped;
  body: string;
  flags: string[];
}

/** The stream key of a line without envelope fields (every bare line). */
const BARE_STREAM = '||||';

/**
 * The stream a line belongs to: lines merge only within one stream (also used by `sluice parse`).
 * Envelope fields shipper, stream, service, host, file and, when the envelope names a
 * Kubernetes pod or container, namespace/pod/container: the containers of one pod (an app
 * and its sidecar) share service and node, and a shipper need not name the file.
 */
export function streamKeyOf(u: Unwrapped): string {
  if (u.shipper === null && u.stream === null && u.service === null && u.host === null && u.file === null) return BARE_STREAM;
  const key = `${u.shipper ?? ''}|${u.stream ?? ''}|${u.service ?? ''}|${u.host ?? ''}|${u.file ?? ''}`;
  const pod = u.labels[K8S_LABELS.pod];
  const container = u.labels[K8S_LABELS.container];
  if (pod === undefined && container === undefined) return key;
  return `${key}|${u.labels[K8S_LABELS.namespace] ?? ''}/${pod ?? ''}/${container ?? ''}`;
}

/** A message that is one pretty-printed JSON document is one event, not one per line. */
function wholeJson(text: string): boolean {
  const t = text.trim();
  if (!t.includes('\n') || !t.startsWith('{') || !t.endsWith('}')) return false;
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}

/**
 * The physical lines of a message (`\n` or `\r\n`; a final newline ends the last line),
 * except that a message holding one pretty-printed JSON document is one line.
 */
export function physicalLines(text: string): string[] {
  // One line, or one line and its newline (most messages): no JSON document spans it.
  const nl = text.indexOf('\n');
  if (nl === -1) return [text];
  if (nl === text.length - 1) return [text.slice(0, nl > 0 && text.charCodeAt(nl - 1) === 0x0d ? nl - 1 : nl)];
  if (wholeJson(text)) return [text.trim()];
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export function splitMessage(text: string, startOf?: (env: Unwrapped) => RegExp | undefined): SplitEvent[] {
  const lines = physicalLines(text);

  const partials = new Map<string, Item>();
  const groupers = new Map<string, LineGrouper<Item>>();
  const groups: Item[][] = [];
  const feed = (key: string, item: Item): void => {
    let g = groupers.get(key);
    // A stream's user start rule (sluice.yaml) is taken from its first line.
    if (!g) groupers.set(key, (g = new LineGrouper<Item>((i) => i.body, startOf?.(item.env))));
    groups.push(...g.push(item));
  };

  lines.forEach((line, at) => {
    const env = unwrapLine(line);
    const key = streamKeyOf(env);
    const open = partials.get(key);
    if (open) {
      open.body += env.body;
      if (env.partial) return;
      partials.delete(key);
      feed(key, open);
      return;
    }
    const item: Item = { at, env, body: env.body, flags: [] };
    if (env.partial) partials.set(key, item);
    else feed(key, item);
  });
  for (const [key, open] of partials) {
    open.flags.push('partial');
    feed(key, open);
  }
  for (const g of groupers.values()) groups.push(...g.finish());

  return groups
    .sort((a, b) => (a[0] as Item).at - (b[0] as Item).at)
    .map((g) => {
      const head = g[0] as Item;
      return { line: head.at, envelope: head.env, body: g.map((i) => i.body).join('\n'), flags: [...new Set(g.flatMap((i) => i.flags))] };
    })
    .filter((e) => e.body.trim().length > 0);
}
