/**
 * Operator actions on invocations: status and kill. A kill bumps the epoch (so the running
 * attempt can no longer write anything), stores ABORTED "killed", takes the invocation out of
 * its key's inbox or passes the lock on, and answers whoever waits.
 */
import type { CompletionListener, Kicker } from '../driver/driver.js';
import { Code, InvalidArgumentError, NotFoundError } from '../errors.js';
import { isInvocationId } from '../ids.js';
import { INVOCATION_ID_ATTR, type Logger } from '../log.js';
import { InvocationStatus, type InvocationRecord, type InvocationResult, type InvocationStore } from '../store/invocation-store.js';
import { childInvocationId } from '../driver/enqueue.js';
import { Flags, MessageType } from '../protocol/framing.js';

export const KILLED: InvocationResult = { kind: 'failure', code: Code.Aborted, message: 'killed' };
export const CANCELED: InvocationResult = { kind: 'failure', code: Code.Cancelled, message: 'canceled' };

/** Call trees deeper than this are not followed (a guard against cycles in corrupted data). */
const MAX_DEPTH = 32;

/** Children behind Invoke entries that have no result yet. */
function pendingChildren(rec: InvocationRecord): string[] {
  const out: string[] = [];
  rec.journal.forEach((entry, i) => {
    const index = i + 1;
    if (entry.type === MessageType.Invoke && (entry.flags & Flags.Completed) === 0 && !rec.completions.has(index)) out.push(childInvocationId(rec.id, index));
  });
  return out;
}

export interface InvocationStatusView {
  id: string;
  target: string;
  service: string;
  method: string;
  key?: string;
  status: string;
  attempts: number;
  created_at: string;
  modified_at: string;
  last_failure?: { code: number; message: string; at: string };
  result?: { kind: 'value' } | { kind: 'failure'; code: number; message: string };
}

export function statusView(rec: InvocationRecord): InvocationStatusView {
  return {
    id: rec.id,
    target: `${rec.service}/${rec.method}`,
    service: rec.service,
    method: rec.method,
    ...(rec.kind === 'keyed' ? { key: rec.key } : {}),
    status: rec.status,
    attempts: rec.attempts,
    created_at: new Date(rec.createdAt).toISOString(),
    modified_at: new Date(rec.modifiedAt).toISOString(),
    ...(rec.lastFailure ? { last_failure: { code: rec.lastFailure.code, message: rec.lastFailure.message, at: new Date(rec.lastFailure.at).toISOString() } } : {}),
    ...(rec.result ? { result: rec.result.kind === 'value' ? { kind: 'value' as const } : { kind: 'failure' as const, code: rec.result.code, message: rec.result.message } } : {}),
  };
}

export class InvocationAdminService {
  constructor(private readonly deps: { store: InvocationStore; kicker?: Kicker; listener?: CompletionListener; log: Logger; abortAttempt?: (id: string) => void }) {}

  private checkId(id: string): void {
    if (!isInvocationId(id)) throw new InvalidArgumentError(`'${id}' is not a valid invocation id`);
  }

  async status(id: string): Promise<InvocationStatusView> {
    this.checkId(id);
    const rec = await this.deps.store.get(id);
    if (!rec) throw new NotFoundError(`invocation ${id} not found`);
    return statusView(rec);
  }

  async kill(id: string, mode: 'kill' | 'cancel'): Promise<{ status: number; body?: unknown }> {
    this.checkId(id);
    const rec = await this.deps.store.get(id);
    if (!rec) throw new NotFoundError(`invocation ${id} not found`);
    if (rec.status === InvocationStatus.Completed) return { status: 200, body: { id, status: 'completed', message: 'the invocation had already finished; nothing to do' } };
    const done = mode === 'kill' ? await this.killTree(id, 0) : await this.cancelTree(id, 0);
    return { status: 202, body: { id, status: done ? (mode === 'kill' ? 'killed' : 'canceling') : 'completed' } };
  }

  /**
   * Kill (0.8 semantics): children behind calls that are still pending first (recursively),
   * one-way children are detached and live on; then the invocation fails with ABORTED "killed".
   */
  private async killTree(id: string, depth: number): Promise<boolean> {
    const rec = await this.deps.store.get(id);
    if (!rec || rec.status === InvocationStatus.Completed) return false;
    if (depth < MAX_DEPTH) {
      for (const child of pendingChildren(rec)) await this.killTree(child, depth + 1);
    }
    const before = await this.deps.store.forceComplete(id, KILLED);
    if (!before) return false;
    this.deps.abortAttempt?.(id);
    this.deps.log.log('info', 'invocation killed', { [INVOCATION_ID_ATTR]: id, previousStatus: before.status });
    this.deps.listener?.completed(id, KILLED);
    // A killed child still completes its caller's entry, as any result does.
    if (before.caller && depth === 0) {
      if (await this.deps.store.addCompletion(before.caller.invocationId, before.caller.entryIndex, KILLED)) await this.deps.kicker?.kick(before.caller.invocationId);
    }
    if (before.kind !== 'unkeyed') await this.leaveInbox(before);
    return true;
  }

  /**
   * Graceful cancel: pending children are cancelled, then the invocation is flagged; its next
   * attempt fails every pending entry with CANCELLED so the handler can compensate. An
   * invocation that never started (inbox, delayed) just ends as CANCELLED.
   */
  private async cancelTree(id: string, depth: number): Promise<boolean> {
    const rec = await this.deps.store.get(id);
    if (!rec || rec.status === InvocationStatus.Completed) return false;
    if (rec.status === InvocationStatus.Inboxed || rec.status === InvocationStatus.Delayed) {
      const before = await this.deps.store.forceComplete(id, CANCELED);
      if (!before) return false;
      this.deps.listener?.completed(id, CANCELED);
      if (before.caller && (await this.deps.store.addCompletion(before.caller.invocationId, before.caller.entryIndex, CANCELED))) await this.deps.kicker?.kick(before.caller.invocationId);
      if (before.kind !== 'unkeyed') await this.leaveInbox(before);
      return true;
    }
    if (depth < MAX_DEPTH) {
      for (const child of pendingChildren(rec)) await this.cancelTree(child, depth + 1);
    }
    if (!(await this.deps.store.requestCancel(id))) return false;
    this.deps.log.log('info', 'invocation cancel requested', { [INVOCATION_ID_ATTR]: id });
    await this.deps.kicker?.kick(id);
    return true;
  }

  /** Out of the key's inbox (waiting) or off its lock (holder), then the next in line runs. */
  private async leaveInbox(rec: InvocationRecord): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const instance = await this.deps.store.getInstance(rec.service, rec.key);
      const position = instance.queue.indexOf(rec.id);
      if (position < 0) return;
      const after = await this.deps.store.removeFromQueue(rec.service, rec.key, rec.id, position);
      if (after === undefined) continue; // the queue moved under us: look again
      if (position === 0 && after[0]) await this.deps.kicker?.kick(after[0]);
      return;
    }
  }
}
