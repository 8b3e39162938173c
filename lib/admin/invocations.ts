/**
 * Operator actions on invocations: status and kill. A kill bumps the epoch (so the running
 * attempt can no longer write anything), stores ABORTED "killed", takes the invocation out of
 * its key's inbox or passes the lock on, and answers whoever waits.
 */
import type { CompletionListener, Kicker } from '../driver/driver.js';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import { isInvocationId } from '../ids.js';
import { INVOCATION_ID_ATTR, type Logger } from '../log.js';
import { InvocationStatus, type InvocationRecord, type InvocationResult, type InvocationStore } from '../store/invocation-store.js';
import { DEFAULT_LIST_LIMIT, type InvocationLister, type InvocationSummary } from '../store/invocation-list.js';
import { journalView, type JournalEntryView } from './journal-view.js';
import type { ListQuery } from './types.js';
import { childInvocationId } from '../driver/enqueue.js';
import { CANCELED, KILLED, pendingCallIndexes } from '../driver/plan.js';

export { CANCELED, KILLED } from '../driver/plan.js';

/** Call trees deeper than this are not followed (a guard against cycles in corrupted data). */
const MAX_DEPTH = 32;

/** Children behind Invoke entries that have no result yet. */
function pendingChildren(rec: InvocationRecord): string[] {
  return pendingCallIndexes(rec.journal, rec.completions).map((index) => childInvocationId(rec, index));
}

/**
 * The fields every view of an invocation has: a row of `GET /invocations` and the status of one
 * (the OpenAPI schema `InvocationSummary`, lib/admin/openapi.ts).
 */
export interface InvocationBaseView {
  id: string;
  target: string;
  service: string;
  method: string;
  key?: string;
  status: string;
  /** The deployment it runs on: pinned once it has journaled progress, else the one it was accepted for. */
  deployment_id: string;
  attempts: number;
  created_at: string;
  modified_at: string;
  last_failure?: { code: number; message: string; at: string };
  result?: { kind: 'value' } | { kind: 'failure'; code: number; message: string };
}

export interface InvocationStatusView extends InvocationBaseView {
  pinned: boolean;
}

export function statusView(rec: InvocationRecord): InvocationStatusView {
  return {
    id: rec.id,
    target: `${rec.service}/${rec.method}`,
    service: rec.service,
    method: rec.method,
    ...(rec.kind === 'keyed' ? { key: rec.key } : {}),
    status: rec.status,
    deployment_id: rec.pinnedTo ?? rec.endpointId,
    // Pinned once it has journaled progress (the index entry may come later, see attemptUpdate).
    pinned: rec.pinnedTo !== undefined || (rec.status !== InvocationStatus.Completed && rec.journal.length > 0),
    attempts: rec.attempts,
    created_at: new Date(rec.createdAt).toISOString(),
    modified_at: new Date(rec.modifiedAt).toISOString(),
    ...(rec.lastFailure
      ? { last_failure: { code: rec.lastFailure.code, message: rec.lastFailure.message, at: new Date(rec.lastFailure.at).toISOString() } }
      : {}),
    ...(rec.result
      ? { result: rec.result.kind === 'value' ? { kind: 'value' as const } : { kind: 'failure' as const, code: rec.result.code, message: rec.result.message } }
      : {}),
  };
}

/** `GET /invocations/{id}`: the status plus the journal, the key's inbox position and the due time. */
export interface InvocationDetailView extends InvocationStatusView {
  /** When the runtime will next look at it (a retry, a timer, a lease end); absent when only a completion wakes it. */
  next_attempt_at?: string;
  cancel_requested: boolean;
  /** Keyed invocations not finished: 0 = it holds the key's lock, n = n invocations ahead of it; -1 = not in the inbox. */
  inbox_position?: number;
  /** Entries after the input; a finished invocation keeps only its result, so its journal is empty. */
  journal: JournalEntryView[];
  journal_length: number;
}

/** One row of `GET /invocations`. */
export interface InvocationListView extends InvocationBaseView {
  next_attempt_at?: string;
}

const STATUSES = new Set<string>(Object.values(InvocationStatus));

function iso(ms: number): string {
  return new Date(Math.min(Math.max(ms, -8.64e15), 8.64e15)).toISOString();
}

export function listView(s: InvocationSummary): InvocationListView {
  return {
    id: s.id,
    target: `${s.service}/${s.method}`,
    service: s.service,
    method: s.method,
    ...(s.kind === 'unkeyed' ? {} : { key: s.key }),
    status: s.status,
    attempts: s.attempts,
    created_at: iso(s.createdAt),
    modified_at: iso(s.modifiedAt),
    deployment_id: s.deployment,
    ...(s.dueAt !== undefined ? { next_attempt_at: iso(s.dueAt) } : {}),
    ...(s.lastFailure ? { last_failure: { code: s.lastFailure.code, message: s.lastFailure.message, at: iso(s.lastFailure.at) } } : {}),
    ...(s.result ? { result: s.result } : {}),
  };
}

export class InvocationAdminService {
  constructor(
    private readonly deps: {
      store: InvocationStore;
      lister?: InvocationLister;
      kicker?: Kicker;
      listener?: CompletionListener;
      log: Logger;
      abortAttempt?: (id: string) => void;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  async list(query: ListQuery): Promise<{ invocations: InvocationListView[]; next_cursor?: string }> {
    if (!this.deps.lister) throw new InvalidArgumentError('listing is not available here');
    for (const s of query.status ?? []) if (!STATUSES.has(s)) throw new InvalidArgumentError(`Unknown status '${s}': use ${[...STATUSES].join(', ')}`);
    const page = await this.deps.lister.list(
      { status: query.status as InvocationStatus[] | undefined, service: query.service, method: query.method, key: query.key },
      query.limit ?? DEFAULT_LIST_LIMIT,
      query.cursor,
    );
    return { invocations: page.invocations.map(listView), ...(page.cursor ? { next_cursor: page.cursor } : {}) };
  }

  async instance(service: string, key: string): Promise<unknown> {
    const inst = await this.deps.store.getInstance(service, key);
    const [holder, ...waiting] = inst.queue;
    return {
      service,
      key,
      ...(holder !== undefined ? { lock_holder: holder } : {}),
      inbox: waiting,
      state: [...inst.state].map(([name, value]) => ({ key: name, size: value.length })),
    };
  }

  async describe(id: string): Promise<InvocationDetailView> {
    this.checkId(id);
    const rec = await this.deps.store.get(id);
    if (!rec) throw new NotFoundError(`invocation ${id} not found`);
    let inbox_position: number | undefined;
    if (rec.kind !== 'unkeyed' && rec.status !== InvocationStatus.Completed && rec.status !== InvocationStatus.Delayed) {
      inbox_position = (await this.deps.store.getInstance(rec.service, rec.key)).queue.indexOf(id);
    }
    return {
      ...statusView(rec),
      ...(rec.status !== InvocationStatus.Completed && rec.dueAt !== undefined ? { next_attempt_at: iso(rec.dueAt) } : {}),
      cancel_requested: rec.cancelRequested,
      ...(inbox_position !== undefined ? { inbox_position } : {}),
      journal_length: rec.journal.length,
      journal: journalView(rec, this.now()),
    };
  }

  private checkId(id: string): void {
    if (!isInvocationId(id)) throw new InvalidArgumentError(`'${id}' is not a valid invocation id`);
  }

  /** `GET /invocations/{id}`: the detailed view. */
  async status(id: string): Promise<InvocationDetailView> {
    return this.describe(id);
  }

  async kill(id: string, mode: 'kill' | 'cancel'): Promise<{ status: number; body?: unknown }> {
    this.checkId(id);
    const rec = await this.deps.store.get(id);
    if (!rec) throw new NotFoundError(`invocation ${id} not found`);
    if (rec.status === InvocationStatus.Completed)
      return { status: 200, body: { id, status: 'completed', message: 'the invocation had already finished; nothing to do' } };
    const done = mode === 'kill' ? await this.killTree(id, 0) : await this.cancelTree(id, 0);
    return { status: 202, body: { id, status: done ? (mode === 'kill' ? 'killed' : 'canceling') : 'completed' } };
  }

  /**
   * Kill (0.8 semantics): children behind calls that are still pending (recursively), one-way
   * children are detached and live on; the invocation fails with ABORTED "killed". Each kill is
   * one transaction (result, caller's completion, inbox, lock hand-over) that bumps the epoch, so
   * an attempt running in any process can no longer write anything. A child its last attempt
   * created while the kill was under way is in the journal the kill saw, and is killed after it.
   */
  private async killTree(id: string, depth: number): Promise<boolean> {
    const rec = await this.deps.store.get(id);
    if (!rec || rec.status === InvocationStatus.Completed) return false;
    const done = new Set<string>();
    if (depth < MAX_DEPTH) {
      for (const child of pendingChildren(rec)) {
        done.add(child);
        await this.killTree(child, depth + 1);
      }
    }
    const ended = await this.end(id, KILLED, 'invocation killed');
    if (ended && depth < MAX_DEPTH) {
      for (const child of pendingChildren(ended)) if (!done.has(child)) await this.killTree(child, depth + 1);
    }
    return ended !== undefined;
  }

  /** Ends one invocation with `result` and wakes whoever that concerns; the record as it was, or undefined if it had finished. */
  private async end(id: string, result: InvocationResult, what: string): Promise<InvocationRecord | undefined> {
    const ended = await this.deps.store.kill(id, result);
    if (!ended) return undefined;
    this.deps.abortAttempt?.(id);
    this.deps.log.log('info', what, { [INVOCATION_ID_ATTR]: id, previousStatus: ended.before.status });
    this.deps.listener?.completed(id, result);
    for (const wake of [ended.before.caller?.invocationId, ended.nextHolder]) {
      if (wake) await this.deps.kicker?.kick(wake).catch(() => undefined);
    }
    return ended.before;
  }

  /**
   * Graceful cancel: the invocation is flagged (and made due), and so are the children behind its
   * pending calls; its next attempt fails every pending entry with CANCELLED so the handler can
   * compensate, and cancels any child created meanwhile (their failure completes its entries). An invocation that never
   * started (inbox, delayed) just ends as CANCELLED.
   */
  private async cancelTree(id: string, depth: number): Promise<boolean> {
    const rec = await this.deps.store.get(id);
    if (!rec || rec.status === InvocationStatus.Completed) return false;
    if (rec.status === InvocationStatus.Inboxed || rec.status === InvocationStatus.Delayed)
      return (await this.end(id, CANCELED, 'invocation canceled before it started')) !== undefined;
    const flagged = await this.deps.store.requestCancel(id);
    if (!flagged) return false;
    if (flagged.status === InvocationStatus.Inboxed || flagged.status === InvocationStatus.Delayed)
      return (await this.end(id, CANCELED, 'invocation canceled before it started')) !== undefined;
    this.deps.log.log('info', 'invocation cancel requested', { [INVOCATION_ID_ATTR]: id });
    // Its pending children now (the invocation's next attempt does it too, for any created since).
    if (depth < MAX_DEPTH) {
      for (const child of pendingChildren(flagged)) await this.cancelTree(child, depth + 1);
    }
    await this.deps.kicker?.kick(id).catch(() => undefined);
    return true;
  }
}
