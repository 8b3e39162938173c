/**
 * Operator actions on invocations: status and kill. A kill bumps the epoch (so the running
 * attempt can no longer write anything), stores ABORTED "killed", takes the invocation out of
 * its key's inbox or passes the lock on, and answers whoever waits.
 */
import type { CompletionListener, Kicker } from '../driver/driver.js';
import { Code, InvalidArgumentError, NotFoundError } from '../errors.js';
import { isInvocationId } from '../ids.js';
import { INVOCATION_ID_ATTR, type Logger } from '../log.js';
import { type InvocationRecord, type InvocationResult, type InvocationStore } from '../store/invocation-store.js';

export const KILLED: InvocationResult = { kind: 'failure', code: Code.Aborted, message: 'killed' };

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
  constructor(private readonly deps: { store: InvocationStore; kicker?: Kicker; listener?: CompletionListener; log: Logger }) {}

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
    const before = await this.deps.store.forceComplete(id, KILLED);
    if (!before) return { status: 200, body: { id, status: 'completed', message: 'the invocation had already finished; nothing to do' } };
    this.deps.log.log('info', 'invocation killed', { [INVOCATION_ID_ATTR]: id, mode, previousStatus: before.status });
    this.deps.listener?.completed(id, KILLED);
    if (before.kind !== 'unkeyed') await this.leaveInbox(before);
    return { status: 202, body: { id, status: 'killed' } };
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
