/**
 * Structured JSON logs, one line per event. Anything about an invocation carries
 * `restate.invocation.id` so one id finds every line (CloudWatch Logs Insights, `grep`).
 */
import { writeSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogSink = (line: string) => void;

export function createLogger(opts: { level?: LogLevel; sink?: LogSink; fields?: Record<string, unknown> } = {}): Logger {
  const min = ORDER[opts.level ?? (process.env.RESTLESS_LOG_LEVEL as LogLevel | undefined) ?? 'info'] ?? ORDER.info;
  const sink = opts.sink ?? stdoutSink;
  const base = opts.fields ?? {};
  return {
    log(level, msg, fields = {}) {
      if (ORDER[level] < min) return;
      const line = { time: new Date().toISOString(), level, msg, ...base, ...fields };
      // The replacer (errors, bytes) slows JSON.stringify down on every key: only when it may matter.
      sink(JSON.stringify(line, allPlain(fields) && allPlain(base) ? undefined : errorReplacer));
    },
    child(fields) {
      return createLogger({ level: opts.level, sink, fields: { ...base, ...fields } });
    },
  };
}

/**
 * Lines go out once per turn of the event loop, not one write each: stdout is synchronous on
 * Linux (a file or a pipe, as on Lambda), and a busy process logs a few lines per call. What is
 * still held when the process exits is written then.
 */
let held: string[] = [];
let flushing = false;
/**
 * Node's own setImmediate, taken when this module loads: a test's fake timers replace the global
 * one, and a flush they scheduled but never ran (real timers restored) would hold every later line.
 */
const defer = setImmediate;

/**
 * Writes the lines held for this turn now. The Lambda functions call it after each invocation
 * (lib/lambda-logs.ts): a sandbox may be frozen before the next turn, and its lines would then wait
 * for the next invocation.
 */
export function flushLogs(): void {
  flushing = false;
  if (held.length === 0) return;
  const chunk = held.join('');
  held = [];
  process.stdout.write(chunk);
}

function stdoutSink(line: string): void {
  held.push(line + '\n');
  if (flushing) return;
  if (!exitHooked) hookExit();
  flushing = true;
  defer(flushLogs);
}

let exitHooked = false;
function hookExit(): void {
  exitHooked = true;
  process.once('exit', () => {
    if (held.length === 0) return;
    writeAllSync(held.join(''));
    held = [];
  });
}

/** How long the exit hook waits for a full stdout pipe to drain before it gives the rest up. */
const EXIT_WRITE_GIVE_UP_MS = 2_000;

/**
 * Writes all of `text` to stdout on exit. A pipe's descriptor is non-blocking: once its reader is
 * behind and the pipe full, one writeSync writes part of it (the rest lost, the last line torn) or
 * fails with EAGAIN. So: write what is left until done, waiting a millisecond whenever the pipe is full.
 */
function writeAllSync(text: string): void {
  let rest = Buffer.from(text, 'utf8');
  const giveUpAt = Date.now() + EXIT_WRITE_GIVE_UP_MS;
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(1, rest));
    } catch (err) {
      // stdout is gone, or its reader is stuck: nothing else to tell
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > giveUpAt) return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

function allPlain(fields: Record<string, unknown>): boolean {
  for (const k in fields) {
    const v = fields[k];
    if (typeof v === 'object' && v !== null) return false;
  }
  return true;
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  return value;
}

/** The attribute name used in logs and spans. */
export const INVOCATION_ID_ATTR = 'restate.invocation.id';

export const silentLogger: Logger = { log() {}, child: () => silentLogger };
