/**
 * What the workload endpoint did, one JSON line per event, one file per run
 * (`$CHAOS_RECORDS_DIR/<run>.jsonl`). Written synchronously, so a record survives the endpoint
 * process being killed right after it.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const RECORDS_DIR_ENV = 'CHAOS_RECORDS_DIR';

/** What happened; `v` is the value (a side effect's result, a handler's answer, an awakeable id). */
export type RecordBody = { k: 'start' } | { k: 'fx' | 'seen'; step: number; v: number } | { k: 'done'; v: unknown } | { k: 'awk'; v: string };

/** Who: the request's tag, the attempt (one handler execution), and when (ms, this machine's clock). */
export type WorkloadRecord = RecordBody & { tag: string; att: string; at: number };

const SAFE_RUN = /^[A-Za-z0-9_.-]{1,200}$/;

function fileOf(dir: string, run: string): string {
  if (!SAFE_RUN.test(run)) throw new Error(`bad run name '${run}'`);
  return join(dir, `${run}.jsonl`);
}

/** Endpoint side: appends one record to the run's file. */
export function appendRecord(run: string, record: WorkloadRecord): void {
  const dir = process.env[RECORDS_DIR_ENV];
  if (!dir) throw new Error(`${RECORDS_DIR_ENV} is not set`);
  appendFileSync(fileOf(dir, run), `${JSON.stringify(record)}\n`);
}

/** Harness side: every record of a run so far (a torn last line, from a kill mid-write, is skipped). */
export function readRecords(dir: string, run: string): WorkloadRecord[] {
  const file = fileOf(dir, run);
  if (!existsSync(file)) return [];
  const out: WorkloadRecord[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as WorkloadRecord);
    } catch {
      // torn write
    }
  }
  return out;
}

/** Incremental reader: each call returns the records appended since the last one. */
export function recordTail(dir: string, run: string): () => WorkloadRecord[] {
  let seen = 0;
  return () => {
    const all = readRecords(dir, run);
    const fresh = all.slice(seen);
    seen = all.length;
    return fresh;
  };
}
