/**
 * Error fields from a stack trace merged into a multi-line event (the collector's
 * multiline.ts merges them): the log line first, then the trace.
 *
 * Recognised, first trace start wins:
 * - Java / Scala / Kotlin / .NET / Node: an exception header `a.b.SomeException: msg`
 *   (optionally after `Exception in thread "x" ` or .NET's `Unhandled exception. `,
 *   indented or not) followed somewhere by an `at ...` frame. A qualified type needs no
 *   particular suffix; an unqualified one (Node `TypeError`) must end in Error or
 *   Exception. type = the header's class (the outermost exception; `Caused by:` and
 *   .NET `--->` inner exceptions stay in the stack), message = the rest of its line;
 * - Python: `Traceback (most recent call last):`; type and message come from the LAST
 *   unindented `XxxError: msg` line (the exception that was finally raised);
 * - Go: `panic: msg` or `fatal error: msg` followed by a `goroutine N [state]:` dump;
 *   type is "panic" / "fatal error", message the text after it (without ` [recovered]`).
 *
 * stack = the trace from its first line to the end of the event (trailing line breaks
 * dropped); the record's message becomes the text before the trace (the first line,
 * usually), so `message + "\n" + stack` is the original text. When the trace starts on
 * the first line itself (an uncaught exception written to stderr), the first line stays
 * the message and also opens the stack. A message with no recognised trace is left
 * alone (null).
 */
import type { ErrorInfo } from '../../shared/records.js';

export interface SplitTrace {
  message: string;
  error: ErrorInfo;
}

const HEADER = /^\s*(?:Exception in thread "[^"]*" |Unhandled [Ee]xception\. )?((?:[A-Za-z_$][\w$]*\.)*([A-Za-z_$][\w$]*))(?:: (.*))?$/;
const FRAME = /^\s+at \S/;
const PY_TRACEBACK = /^\s*Traceback \(most recent call last\):\s*$/;
const PY_EXCEPTION = /^([A-Za-z_][\w.]*)(?:: (.*))?$/;
const GO_PANIC = /^(panic|fatal error): (.*?)(?: \[recovered\])?\s*$/;
const GO_GOROUTINE = /^goroutine \d+ \[[^\]]*\]:\s*$/;
/** Lines scanned for a trace start; frames are searched in the whole event. */
const MAX_HEAD_LINES = 64;

/** Where frames and goroutine headers were seen: the last index of each, -1 for none. */
interface Marks {
  lastFrame: number;
  lastGoroutine: number;
}

function javaLike(lines: readonly string[], i: number, marks: Marks): ErrorInfo | null {
  if (marks.lastFrame <= i) return null;
  const line = lines[i] as string;
  const m = HEADER.exec(line);
  if (!m) return null;
  const type = m[1] as string;
  const simple = m[2] as string;
  if (type === simple ? !/(Error|Exception)$/.test(simple) : !/^[A-Za-z]/.test(type)) return null;
  return { type, message: m[3] ?? null, stack: null };
}

function python(lines: readonly string[], i: number): ErrorInfo | null {
  if (!PY_TRACEBACK.test(lines[i] as string)) return null;
  for (let j = lines.length - 1; j > i; j--) {
    const m = PY_EXCEPTION.exec(lines[j] as string);
    if (m) return { type: m[1] as string, message: m[2] ?? null, stack: null };
  }
  return null;
}

function goPanic(lines: readonly string[], i: number, marks: Marks): ErrorInfo | null {
  if (marks.lastGoroutine <= i) return null;
  const m = GO_PANIC.exec(lines[i] as string);
  if (!m) return null;
  return { type: m[1] as string, message: m[2] || null, stack: null };
}

export function splitStackTrace(message: string): SplitTrace | null {
  if (!message.includes('\n')) return null;
  const raw = message.split('\n');
  // Matched without a trailing CR; cut from `raw`, so the split loses nothing.
  const lines = raw.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  const marks: Marks = { lastFrame: -1, lastGoroutine: -1 };
  for (let j = lines.length - 1; j > 0 && (marks.lastFrame < 0 || marks.lastGoroutine < 0); j--) {
    const l = lines[j] as string;
    if (marks.lastFrame < 0 && FRAME.test(l)) marks.lastFrame = j;
    else if (marks.lastGoroutine < 0 && GO_GOROUTINE.test(l)) marks.lastGoroutine = j;
  }
  const n = Math.min(lines.length, MAX_HEAD_LINES);
  for (let i = 0; i < n; i++) {
    const line = lines[i] as string;
    if (line.length === 0 || FRAME.test(line)) continue;
    const error = python(lines, i) ?? goPanic(lines, i, marks) ?? javaLike(lines, i, marks);
    if (!error) continue;
    error.stack = trimEols(raw.slice(i).join('\n'));
    return { message: i === 0 ? (raw[0] as string) : raw.slice(0, i).join('\n'), error };
  }
  return null;
}

function trimEols(s: string): string {
  let end = s.length;
  while (end > 0 && (s.charCodeAt(end - 1) === 0x0a || s.charCodeAt(end - 1) === 0x0d)) end--;
  return s.slice(0, end);
}
