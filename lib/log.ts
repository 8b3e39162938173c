/**
 * Structured JSON logs, one line per event. Anything about an invocation carries
 * `restate.invocation.id` so one id finds every line (CloudWatch Logs Insights, `grep`).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogSink = (line: string) => void;

export function createLogger(opts: { level?: LogLevel; sink?: LogSink; fields?: Record<string, unknown> } = {}): Logger {
  const min = ORDER[opts.level ?? (process.env.RESTLESS_LOG_LEVEL as LogLevel | undefined) ?? 'info'] ?? ORDER.info;
  const sink = opts.sink ?? ((line: string) => process.stdout.write(line + '\n'));
  const base = opts.fields ?? {};
  return {
    log(level, msg, fields = {}) {
      if (ORDER[level] < min) return;
      sink(JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }, errorReplacer));
    },
    child(fields) {
      return createLogger({ level: opts.level, sink, fields: { ...base, ...fields } });
    },
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  return value;
}

/** The attribute name used in logs and spans. */
export const INVOCATION_ID_ATTR = 'restate.invocation.id';

export const silentLogger: Logger = { log() {}, child: () => silentLogger };
