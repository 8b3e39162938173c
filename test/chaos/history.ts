/**
 * What the harness saw of each invocation over time (every table scan): when it was first seen
 * terminal, with which result, and whether it ever left that state again ("came back to life")
 * or changed its result (two terminal outcomes).
 */
import { isTerminal, type InvocationView } from './inspect.js';

export interface Resurrection {
  id: string;
  firstResult: string;
  now: string;
  at: number;
}

function describeResult(view: InvocationView): string {
  const r = view.result;
  if (!r) return 'none';
  return r.kind === 'value' ? `value ${Buffer.from(r.value).toString('base64')}` : `failure ${r.code} ${r.message}`;
}

export class InvocationHistory {
  private readonly terminal = new Map<string, { at: number; result: string }>();
  readonly resurrections: Resurrection[] = [];

  observe(views: InvocationView[], at = Date.now()): void {
    for (const view of views) {
      const first = this.terminal.get(view.id);
      if (!first) {
        if (isTerminal(view)) this.terminal.set(view.id, { at, result: describeResult(view) });
        continue;
      }
      const now = isTerminal(view) ? describeResult(view) : `status ${view.status}`;
      if (now !== first.result && !this.resurrections.some((r) => r.id === view.id && r.now === now))
        this.resurrections.push({ id: view.id, firstResult: first.result, now, at });
    }
  }

  /** When the harness first saw `id` terminal (the real completion is at or before this). */
  terminalSince(id: string): number | undefined {
    return this.terminal.get(id)?.at;
  }
}
