/**
 * Multi-line merging: which physical lines continue the event before them.
 *
 * A line continues the previous event when it
 * - starts with whitespace (Java/Scala `\tat ...`, Node `    at ...`, .NET `   at ...`,
 *   Python frames, Go file:line lines, wrapped text);
 * - is `Caused by: ...`, `Suppressed: ...`, `... N more`, or a .NET `--- End of ...` /
 *   `---> ...` marker;
 * - is a Java/Scala/.NET exception header with a namespace-qualified class name
 *   (`java.lang.IllegalStateException: boom`, `System.InvalidOperationException: boom`):
 *   logback, log4j and .NET loggers print it on the line
 *   after the log message, unindented;
 * - is a Python `Traceback (most recent call last):` header, a chained-exception line
 *   (`During handling of the above exception...`, `The above exception was the direct
 *   cause...`), or, inside a traceback, the final `XxxError: msg` line;
 * - is a Go `goroutine N [state]:` header or, inside a goroutine dump, a function line
 *   (`main.main()`, `created by ...`) or `[signal ...]`.
 * Blank lines are held back: kept when a continuation follows (Go puts one between
 * `panic:` and `goroutine 1 [running]:`), dropped otherwise.
 *
 * A user-declared start rule (sluice.yaml `multiline.start`, `CompiledFormat.multilineStart`)
 * replaces all of the above for its stream: a line the regex matches (on its first
 * MAX_RULE_LINE characters) starts an event, a blank line is held back as above, and every
 * other line continues the current event (or starts one when there is none).
 *
 * Two users: `LineGrouper` (pure, within one Kafka message; used by split.ts) and
 * `MultilineMerger` (stateful, across messages of one stream, with a timeout).
 */
import { MAX_RULE_LINE } from '../../shared/formats/rules.js';

export type LineKind = 'start' | 'continuation' | 'blank';

const PY_TRACEBACK = /^Traceback \(most recent call last\):\s*$/;
const PY_CHAINED = /^(During handling of the above exception, another exception occurred:|The above exception was the direct cause of the following exception:)\s*$/;
const PY_EXCEPTION_LINE = /^[A-Za-z_][\w.]*(?::.*)?$/;
const GO_GOROUTINE = /^goroutine \d+ \[[^\]]*\]:\s*$/;
// Bounded on purpose: the name class contains '(' and ')', so an unbounded `+` would
// backtrack quadratically on a long run of parentheses. Real frames are far shorter.
const GO_FUNC = /^(created by .+|[\w./*()\[\]{}%$-]{1,512}\(.*\)(?: \+0x[0-9a-f]+)?)$/;
const GO_FUNC_MAX_LINE = 4096;
const GENERAL = /^(\s|Caused by: |Suppressed: |\.\.\. \d+ more|---(?:>| End of ))/;
const JAVA_EXCEPTION = /^(?:[A-Za-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable)(?::.*)?$/;
/**
 * The class-name part of an exception header is short; on a multi-megabyte line of
 * `a.a.a.…` the repeated group above exhausts V8's backtracking stack (a RangeError
 * that depends on the process's stack size). Only this prefix is matched, and the
 * message after `: ` may be of any length.
 */
const JAVA_EXCEPTION_MAX_NAME = 512;
function isJavaExceptionHeader(line: string): boolean {
  const colon = line.indexOf(': ');
  const name = colon >= 0 ? line.slice(0, colon) : line;
  return name.length <= JAVA_EXCEPTION_MAX_NAME && JAVA_EXCEPTION.test(colon >= 0 ? `${name}:` : name);
}

/**
 * The continuation rules plus the little state a Python traceback or a Go dump needs.
 * With `start` (a user's multi-line start rule) only that regex decides, and there is no
 * state: see the module comment.
 */
export class ContinuationRules {
  private mode: 'none' | 'python' | 'go' = 'none';
  /** What `start` is tested with (without `g`/`y`: `test` on those moves `lastIndex`). */
  private readonly startTest: RegExp | undefined;

  /** `start`: the user's start rule, or undefined for the built-in rules. */
  constructor(readonly start?: RegExp) {
    this.startTest = start && (start.global || start.sticky) ? new RegExp(start.source, start.flags.replace(/[gy]/g, '')) : start;
  }

  /** Classify `line`; `hasCurrent` says whether there is an event it could continue. */
  classify(line: string, hasCurrent: boolean): LineKind {
    if (this.startTest !== undefined) return this.byStartRule(this.startTest, line, hasCurrent);
    // Outside a Python traceback or a Go dump, a line opening with a digit, `<` or `{`
    // (timestamps, syslog PRI, JSON: most lines) matches no continuation rule; this
    // skips the blank test and the regexes for them.
    if (this.mode === 'none') {
      const c = line.charCodeAt(0);
      if ((c >= 0x30 && c <= 0x39) || c === 0x3c || c === 0x7b) return 'start';
    }
    if (line.trim().length === 0) return 'blank';
    const kind = this.kindOf(line);
    return hasCurrent ? kind : 'start';
  }

  reset(): void {
    this.mode = 'none';
  }

  private byStartRule(start: RegExp, line: string, hasCurrent: boolean): LineKind {
    const c = line.charCodeAt(0);
    // Printable ASCII other than space cannot open a blank line (the usual case: no trim).
    if (!(c > 0x20 && c < 0x7f) && line.trim().length === 0) return 'blank';
    if (!hasCurrent) return 'start';
    return start.test(line.length > MAX_RULE_LINE ? line.slice(0, MAX_RULE_LINE) : line) ? 'start' : 'continuation';
  }

  private kindOf(line: string): 'start' | 'continuation' {
    if (PY_TRACEBACK.test(line)) {
      this.mode = 'python';
      return 'continuation';
    }
    if (GO_GOROUTINE.test(line)) {
      this.mode = 'go';
      return 'continuation';
    }
    if (GENERAL.test(line) || PY_CHAINED.test(line) || isJavaExceptionHeader(line)) return 'continuation';
    if (this.mode === 'python') {
      this.mode = 'none';
      // The exception line ends the traceback; anything else starts a new event.
      return PY_EXCEPTION_LINE.test(line) ? 'continuation' : 'start';
    }
    if (this.mode === 'go') {
      if ((line.length <= GO_FUNC_MAX_LINE && GO_FUNC.test(line)) || line.startsWith('[signal ')) return 'continuation';
      this.mode = 'none';
      return 'start';
    }
    return line.startsWith('[signal ') ? 'continuation' : 'start';
  }
}

/**
 * Groups items (lines with whatever the caller attaches) into events. Pure: the caller
 * feeds items in order and gets completed groups back.
 */
export class LineGrouper<T> {
  private current: T[] = [];
  private blanks: T[] = [];
  private readonly rules: ContinuationRules;

  /** `start`: the stream's user start rule (see the module comment); none: the built-in rules. */
  constructor(
    private readonly textOf: (item: T) => string,
    start?: RegExp,
  ) {
    this.rules = new ContinuationRules(start);
  }

  /** Returns the groups this item completed (at most one). */
  push(item: T): T[][] {
    const kind = this.rules.classify(this.textOf(item), this.current.length > 0);
    if (kind === 'blank') {
      if (this.current.length > 0) this.blanks.push(item);
      return [];
    }
    if (kind === 'continuation') {
      this.current.push(...this.blanks, item);
      this.blanks = [];
      return [];
    }
    const done = this.finish();
    this.current = [item];
    return done;
  }

  /** The pending group, if any; trailing blank lines are dropped. */
  finish(): T[][] {
    const done = this.current.length > 0 ? [this.current] : [];
    this.current = [];
    this.blanks = [];
    return done;
  }

  get pending(): boolean {
    return this.current.length > 0;
  }
}

export interface MergedEvent<P = unknown> {
  streamKey: string;
  /** The event's lines joined with `\n`. */
  body: string;
  lineCount: number;
  /** `nowMs` of the event's first line. */
  firstAtMs: number;
  /** True when the event was cut at `maxLines` / `maxBytes`; the rest starts a new event. */
  truncated: boolean;
  /**
   * The payloads passed to `push` for the event's lines, in order (kept blank lines
   * included). Present only once some `push` carried a payload, so a caller can keep the
   * raw bytes of each line (e.g. invalid UTF-8) while the merger classifies the text.
   */
  payloads?: P[];
}

export interface MultilineMergerOptions {
  /** Most lines per event; 0 = unbounded. Default 1000. */
  maxLines?: number;
  /** Most UTF-16 code units per event body; 0 = unbounded. Default 1 MiB. */
  maxChars?: number;
}

export interface PushOptions<P> {
  /** Carried along with the line and returned in `MergedEvent.payloads`. */
  payload?: P;
  /**
   * The line continues the pending event whatever it looks like (e.g. the rest of a CRI
   * `P` partial line). Ignored when the stream has no pending event.
   */
  continues?: boolean;
  /** The stream's user start rule for this line (see `MultilineMerger.pushInto`). */
  start?: RegExp | undefined;
}

interface StreamState<P> {
  rules: ContinuationRules;
  lines: string[];
  payloads: P[];
  /** Payloads of the blank lines held back (their count is the number of blanks). */
  blanks: P[];
  chars: number;
  firstAtMs: number;
  lastAtMs: number;
}

/**
 * Merges continuation lines across Kafka messages, per stream (e.g. tenant|service|host|
 * file|stdout), with a timeout so a quiet stream's last event is not held forever.
 *
 * Used by `sluice parse` (bin/parse-pipeline.ts), keyed by input file and envelope
 * stream, and by the collector's partition state (collect.ts), keyed by stream within
 * a Kafka partition, whose checkpoints keep commits offset-safe.
 */
export class MultilineMerger<P = unknown> {
  private readonly streams = new Map<string, StreamState<P>>();
  private readonly maxLines: number;
  private readonly maxChars: number;
  private withPayloads = false;
  /** Streams whose `lines` is not empty (kept so `pendingStreams` costs O(1) per message). */
  private pending = 0;

  constructor(opts: MultilineMergerOptions = {}) {
    this.maxLines = opts.maxLines ?? 1000;
    this.maxChars = opts.maxChars ?? 1_048_576;
  }

  /** Feed one physical line of `streamKey`; returns events this line completed. */
  push(line: string, streamKey: string, nowMs: number, opts: PushOptions<P> = {}): MergedEvent<P>[] {
    const out: MergedEvent<P>[] = [];
    this.pushInto(out, line, streamKey, nowMs, 'payload' in opts, opts.payload as P, opts.continues === true, opts.start);
    return out;
  }

  /**
   * `push` for hot loops: appends the events this line completed to `out` instead of
   * allocating a result (the streaming collector calls it once per line).
   * `hasPayload` is `'payload' in opts` of `push`.
   *
   * `start` is the stream's user start rule as it applies to this line (undefined: the
   * built-in rules). An event is classified by the rule of its FIRST line: the rule given
   * with a line that starts an event (the stream holds none, or the line starts the next
   * one) is the one the event's later lines are classified with, and the rule given with
   * those lines is ignored. So an event depends only on its own lines, which is what lets
   * a replay from the event's first line (the collector's checkpoints) rebuild it exactly
   * even if the rule for the key changes (e.g. a `format` header that changes mid-stream).
   * The rest of an event cut at `maxLines` / `maxChars` keeps the event's rule.
   */
  pushInto(out: MergedEvent<P>[], line: string, streamKey: string, nowMs: number, hasPayload: boolean, payload: P, continues: boolean, start?: RegExp): void {
    let s = this.streams.get(streamKey);
    if (!s) {
      s = { rules: new ContinuationRules(start), lines: [], payloads: [], blanks: [], chars: 0, firstAtMs: nowMs, lastAtMs: nowMs };
      this.streams.set(streamKey, s);
    } else if (s.lines.length === 0 && s.rules.start !== start) {
      s.rules = new ContinuationRules(start);
    }
    if (hasPayload) this.withPayloads = true;
    const classified = s.rules.classify(line, s.lines.length > 0);
    const kind = continues && s.lines.length > 0 ? 'continuation' : classified;
    if (kind === 'blank') {
      if (s.lines.length > 0) s.blanks.push(payload);
      s.lastAtMs = nowMs;
      return;
    }
    if (kind === 'continuation') {
      const nb = s.blanks.length;
      const full = (this.maxLines > 0 && s.lines.length + nb + 1 > this.maxLines) || (this.maxChars > 0 && s.chars + nb + 1 + line.length > this.maxChars);
      if (!full) {
        for (const b of s.blanks) {
          s.lines.push('');
          s.payloads.push(b);
        }
        if (nb > 0) s.blanks = [];
        s.lines.push(line);
        s.payloads.push(payload);
        s.chars += nb + line.length + 1;
        s.lastAtMs = nowMs;
        return;
      }
      out.push(this.emit(streamKey, s, true));
    } else if (s.lines.length > 0) {
      out.push(this.emit(streamKey, s, false));
      // This line starts the next event: its rule is the one that event is classified with.
      if (s.rules.start !== start) s.rules = new ContinuationRules(start);
    }
    // `emit` left `lines` empty and `payloads` fresh: the next event starts in them.
    s.lines.push(line);
    s.payloads.push(payload);
    if (s.blanks.length > 0) s.blanks = [];
    s.chars = line.length;
    s.firstAtMs = nowMs;
    s.lastAtMs = nowMs;
    this.pending++;
  }

  /**
   * Emit the pending event of every stream whose last line is at least `timeoutMs` old
   * (`timeoutMs` 0 flushes everything, e.g. at shutdown). Idle streams are forgotten.
   */
  flush(nowMs: number, timeoutMs: number): MergedEvent<P>[] {
    const out: MergedEvent<P>[] = [];
    for (const [key, s] of this.streams) {
      if (timeoutMs > 0 && nowMs - s.lastAtMs < timeoutMs) continue;
      if (s.lines.length > 0) out.push(this.emit(key, s, false));
      this.streams.delete(key);
    }
    return out;
  }

  /** Emit the pending event of one stream, if any, and forget the stream. */
  flushStream(streamKey: string): MergedEvent<P>[] {
    const s = this.streams.get(streamKey);
    if (!s) return [];
    this.streams.delete(streamKey);
    return s.lines.length > 0 ? [this.emit(streamKey, s, false)] : [];
  }

  /** The pending event that started earliest (by `nowMs` of its first line), if any. */
  oldestPending(): { streamKey: string; firstAtMs: number } | undefined {
    let best: { streamKey: string; firstAtMs: number } | undefined;
    for (const [streamKey, s] of this.streams) {
      if (s.lines.length > 0 && (best === undefined || s.firstAtMs < best.firstAtMs)) best = { streamKey, firstAtMs: s.firstAtMs };
    }
    return best;
  }

  /** The payload of the first line of every pending event, by stream. */
  *pendingHeads(): IterableIterator<{ streamKey: string; head: P }> {
    for (const [streamKey, s] of this.streams) if (s.lines.length > 0) yield { streamKey, head: s.payloads[0] as P };
  }

  /** Whether `streamKey` holds a partial event. */
  hasPending(streamKey: string): boolean {
    return (this.streams.get(streamKey)?.lines.length ?? 0) > 0;
  }

  /** Number of streams holding a partial event. */
  get pendingStreams(): number {
    return this.pending;
  }

  /** Hands the pending event over: `lines` is emptied, `payloads` is the event's. */
  private emit(streamKey: string, s: StreamState<P>, truncated: boolean): MergedEvent<P> {
    const lines = s.lines;
    const ev: MergedEvent<P> = { streamKey, body: lines.length === 1 ? (lines[0] as string) : lines.join('\n'), lineCount: lines.length, firstAtMs: s.firstAtMs, truncated };
    if (this.withPayloads) ev.payloads = s.payloads;
    if (lines.length === 1) lines.pop();
    else s.lines = [];
    s.payloads = [];
    if (s.blanks.length > 0) s.blanks = [];
    s.chars = 0;
    if (!truncated) s.rules.reset();
    this.pending--;
    return ev;
  }
}
