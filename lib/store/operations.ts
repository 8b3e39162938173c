/**
 * What each write of an invocation says: one builder per operation, its condition and its update
 * spelled in one place. Pure (no I/O): lib/store/invocation-store.ts sends them, alone or as one
 * transaction, and reads the refusals.
 */
import { randomUUID } from 'node:crypto';
import { MessageType } from '../protocol/framing.js';
import { Expr } from './expression.js';
import {
  ATTR,
  completionName,
  dueAttributes,
  InvocationStatus,
  newInvocationItem,
  storedEntries,
  toStoredCompletion,
  toStoredState,
  type Completion,
  type FailureInfo,
  type InvocationRecord,
  type InvocationResult,
  type JournalEntry,
  type NewInvocation,
  type StateMap,
} from './invocation-item.js';
import { keys } from './table.js';
import type { TxOp } from './transaction.js';

/** How an accepted invocation starts. */
export type StartMode =
  /** Unkeyed only: created already taken (epoch 1, leased), so the caller drives it with no other write. */
  | { kind: 'take'; leaseMs: number }
  /** Runnable now (unkeyed) or queued in its key's inbox (keyed); due at once. */
  | { kind: 'runnable' }
  /** A delayed send: starts at `until`. */
  | { kind: 'delayed'; until: number };

/** What an attempt produced, written with the step that ends it. */
export interface AttemptProgress {
  /** Entries appended to the journal (index = current length + 1 + i). */
  append: JournalEntry[];
  /** Completions produced by this attempt (GetState answered from the state, cancel failures). */
  completions: Map<number, Completion>;
  /** Results of this invocation's own awakeables that it completed itself. */
  awakeables?: Map<number, Completion>;
  /** The state after this attempt, when it changed. */
  state?: StateMap;
  /** The cancel requests up to this number were applied (pending entries failed with CANCELLED). */
  appliedCancel?: number;
  /** The deployment the journal is written against. */
  pin?: string;
  /** Invocations to create and awakeables to complete, committed with the entries. */
  effects: StoreEffect[];
}

export type StoreEffect =
  { kind: 'create'; inv: NewInvocation; delayedUntil?: number } | { kind: 'awakeable'; target: string; index: number; completion: Completion };

export const NO_PROGRESS: AttemptProgress = Object.freeze({ append: [], completions: new Map(), effects: [] }) as AttemptProgress;

/** An entry a suspension waits on: its completion (or, for an awakeable, its result) must not be there yet. */
export interface AwaitedEntry {
  index: number;
  awakeable: boolean;
}

export type AttemptEnd =
  | { kind: 'continue'; leaseUntil: number; dueAt?: number }
  | { kind: 'suspend'; dueAt?: number; awaiting: AwaitedEntry[] }
  | { kind: 'retry'; at: number; failure: FailureInfo }
  | { kind: 'release'; at: number }
  | { kind: 'complete'; result: InvocationResult };

/** An invocation an attempt created, to be started (kicked, or scheduled when delayed). */
export interface CreatedInvocation {
  inv: NewInvocation;
  delayedUntil?: number;
}

export type CommitOutcome =
  | {
      kind: 'committed';
      created: CreatedInvocation[];
      /** Invocations whose awakeables this write completed (they are due now). */
      awakened: string[];
      /** Effects that could not apply (an id that exists, an awakeable that cannot take a result). */
      dropped: StoreEffect[];
      /** The next holder of the key's lock, made due by this write. */
      nextHolder?: string;
    }
  /** The suspension was refused: a completion it waits for (or a cancel) arrived. Nothing was written. */
  | { kind: 'woken'; stored: InvocationRecord };

export type TakeOutcome = { taken: true; rec: InvocationRecord } | { taken: false; stored?: InvocationRecord };

export type AwakeableOutcome = 'stored' | 'duplicate' | 'not-awakeable' | 'not-started' | 'finished' | 'not-found';

/** The attempt an operation belongs to, plus the key's inbox as the attempt last read it (keyed). */
export type AttemptRef = InvocationRecord & { queue?: string[] };

/** A Put of a new invocation: the id is free, or held a finished invocation whose retention passed. */
export function createOp(role: string, item: Record<string, unknown>, now: number): TxOp {
  const e = new Expr();
  e.when(
    `attribute_not_exists(${e.n('pk')}) OR (${e.n(ATTR.status)} = ${e.v(InvocationStatus.Completed)} AND ${e.n(ATTR.expires)} <= ${e.v(Math.floor(now / 1000))})`,
  );
  return { role, key: { pk: item.pk as string, sk: item.sk as string }, kind: 'put', item, expr: e };
}

/** Appends ids to a key's inbox (its head holds the lock). */
export function inboxAppendOp(role: string, service: string, key: string, ids: string[]): TxOp {
  const e = new Expr();
  const q = e.n(ATTR.queue);
  e.set(q, `list_append(if_not_exists(${q}, ${e.v([])}), ${e.v(ids)})`);
  e.set(e.n('service'), `if_not_exists(${e.n('service')}, ${e.v(service)})`);
  e.set(e.n('key'), `if_not_exists(${e.n('key')}, ${e.v(key)})`);
  return { role, key: keys.instance(service, key), kind: 'update', expr: e };
}

/** The attempt's own update: epoch-fenced, only while `invoked`, journal length as expected. */
export function attemptUpdate(ref: AttemptRef, progress: AttemptProgress, end: AttemptEnd, now: number): TxOp & { kind: 'update' } {
  const e = new Expr();
  const journal = e.n(ATTR.journal);
  e.when(`${e.n(ATTR.epoch)} = ${e.v(ref.epoch)}`)
    .when(`${e.n(ATTR.status)} = ${e.v(InvocationStatus.Invoked)}`)
    .when(`size(${journal}) = ${e.v(ref.journal.length)}`);
  e.setValue(e.n(ATTR.modified), now);
  const finishing = end.kind === 'complete';
  if (finishing) {
    // A finished invocation keeps only its result: smaller items to retain, cheaper writes.
    e.remove(journal, e.n(ATTR.completions), e.n(ATTR.awakeables), e.n(ATTR.state), e.n(ATTR.pinned), e.n(ATTR.cancel), e.n(ATTR.cancelDone));
  } else {
    if (progress.append.length > 0) e.set(journal, `list_append(${journal}, ${e.v(storedEntries(progress.append))})`);
    for (const [index, c] of progress.completions) {
      const path = e.p(ATTR.completions, completionName(index));
      e.set(path, `if_not_exists(${path}, ${e.v(toStoredCompletion(c))})`);
    }
    for (const [index, c] of progress.awakeables ?? []) {
      const path = e.p(ATTR.awakeables, completionName(index));
      e.set(path, `if_not_exists(${path}, ${e.v(toStoredCompletion(c))})`);
    }
    if (progress.state && ref.kind === 'unkeyed') e.setValue(e.n(ATTR.state), toStoredState(progress.state));
    if (progress.appliedCancel !== undefined) e.setValue(e.n(ATTR.cancelDone), progress.appliedCancel);
    if (progress.pin && ref.journal.length + progress.append.length > 0) {
      e.setValue(e.n(ATTR.endpoint), progress.pin);
      // The `pinned` index entry is written once the invocation leaves the attempt (suspends, waits
      // for a retry, is handed on). While the attempt goes on, it holds a lease and so stands in the
      // `due` index, where countPinned finds it: an invocation that makes progress and finishes in
      // one go never pays the index insert and delete (2 WCU).
      if (end.kind !== 'continue') e.setValue(e.n(ATTR.pinned), progress.pin);
    }
  }
  switch (end.kind) {
    case 'continue':
      e.setValue(e.n(ATTR.lease), end.leaseUntil);
      // Keeping the index entry as it is saves an index delete + insert per continuation; it
      // then points at or before the real due time, which is all the sweep needs.
      if (end.dueAt !== undefined) setDue(e, ref.id, end.dueAt);
      break;
    case 'suspend': {
      e.setValue(e.n(ATTR.status), InvocationStatus.Suspended).setValue(e.n(ATTR.lease), 0);
      // A suspension is progress: the attempt count starts again when the invocation resumes.
      e.setValue(e.n(ATTR.attempts), 0);
      if (end.dueAt !== undefined) setDue(e, ref.id, end.dueAt);
      else e.remove(e.n(ATTR.due), e.n(ATTR.gsiPk), e.n(ATTR.gsiSk));
      for (const w of end.awaiting) {
        e.when(`attribute_not_exists(${e.p(ATTR.completions, completionName(w.index))})`);
        if (w.awakeable) e.when(`attribute_not_exists(${e.p(ATTR.awakeables, completionName(w.index))})`);
      }
      // A cancel asked for after the attempt read the invocation refuses the suspension.
      e.when(`attribute_not_exists(${e.n(ATTR.cancel)}) OR ${e.n(ATTR.cancel)} <= ${e.v(ref.cancelSeq)}`);
      break;
    }
    case 'retry':
      e.setValue(e.n(ATTR.lease), end.at).setValue(e.n(ATTR.failure), end.failure);
      setDue(e, ref.id, end.at);
      break;
    case 'release':
      // Not a failure: the attempt it stopped does not count.
      e.setValue(e.n(ATTR.lease), end.at).add(e.n(ATTR.attempts), -1);
      setDue(e, ref.id, end.at);
      break;
    case 'complete':
      e.setValue(e.n(ATTR.status), InvocationStatus.Completed)
        .setValue(e.n(ATTR.result), toStoredCompletion(end.result))
        .setValue(e.n(ATTR.expires), Math.ceil((now + ref.retentionSec * 1000) / 1000))
        .remove(e.n(ATTR.lease), e.n(ATTR.due), e.n(ATTR.gsiPk), e.n(ATTR.gsiSk));
      break;
  }
  return { role: 'self', key: keys.invocation(ref.id), kind: 'update', expr: e };
}

/**
 * The key's instance item: the state (when it changed) and, when the holder finishes, the lock
 * passed on. `next` is the id expected behind the holder (null: nobody), so the next holder can
 * be made due in the same transaction.
 */
export function instanceUpdate(ref: AttemptRef, state: StateMap | undefined, release: boolean, next: string | null | undefined, appends: string[] = []): TxOp {
  const e = new Expr();
  e.when(`${e.p(ATTR.queue, 0)} = ${e.v(ref.id)}`);
  // (A release and an append would overlap on the list; commit() never asks for both.)
  if (appends.length > 0) e.set(e.n(ATTR.queue), `list_append(${e.n(ATTR.queue)}, ${e.v(appends)})`);
  if (release) {
    if (next === null) e.when(`attribute_not_exists(${e.p(ATTR.queue, 1)})`);
    else if (next !== undefined) e.when(`${e.p(ATTR.queue, 1)} = ${e.v(next)}`);
    e.remove(e.p(ATTR.queue, 0));
  }
  if (state) e.setValue(e.n(ATTR.state), toStoredState(state));
  return { role: 'inbox', key: keys.instance(ref.service, ref.key), kind: 'update', expr: e };
}

/** The next in a key's inbox becomes due (its turn came). */
export function becomeDueOp(role: string, id: string, now: number): TxOp {
  const e = new Expr();
  e.when(`${e.n(ATTR.status)} = ${e.v(InvocationStatus.Inboxed)}`);
  e.setValue(e.n(ATTR.modified), now);
  setDue(e, id, now);
  return { role, key: keys.invocation(id), kind: 'update', expr: e };
}

/** The caller's Invoke entry gets our result (first wins) and the caller becomes due. */
export function callerCompletionOp(callerId: string, entryIndex: number, result: InvocationResult, now: number): TxOp {
  const e = new Expr();
  const path = e.p(ATTR.completions, completionName(entryIndex));
  e.when(`attribute_exists(${e.n('pk')}) AND ${e.n(ATTR.status)} <> ${e.v(InvocationStatus.Completed)} AND attribute_exists(${e.n(ATTR.completions)})`);
  e.set(path, `if_not_exists(${path}, ${e.v(toStoredCompletion(result))})`).setValue(e.n(ATTR.modified), now);
  setDue(e, callerId, now);
  return { role: 'caller', key: keys.invocation(callerId), kind: 'update', expr: e };
}

/** The effects' operations; sends to the key `own` holds are returned apart (its instance update takes them). */
export function effectOps(effects: StoreEffect[], now: number, own?: Pick<AttemptRef, 'service' | 'key'>) {
  const ops: TxOp[] = [];
  const byRole = new Map<string, StoreEffect>();
  const created: { effect: StoreEffect & { kind: 'create' } }[] = [];
  const inboxAppends = new Map<string, { service: string; key: string; ids: string[] }>();
  const awakeables = new Map<string, { target: string; items: { index: number; completion: Completion }[]; effects: StoreEffect[] }>();
  effects.forEach((effect, i) => {
    if (effect.kind === 'create') {
      const inv = effect.inv;
      const keyed = inv.kind !== 'unkeyed';
      const delayed = effect.delayedUntil !== undefined && effect.delayedUntil > now;
      const status = delayed ? InvocationStatus.Delayed : keyed ? InvocationStatus.Inboxed : InvocationStatus.Invoked;
      const item = newInvocationItem(inv, now, {
        status,
        epoch: 0,
        leaseUntil: 0,
        dueAt: delayed ? effect.delayedUntil! : now,
        attempts: 0,
        token: randomUUID(),
      });
      const role = `effect:${i}`;
      ops.push(createOp(role, item, now));
      byRole.set(role, effect);
      created.push({ effect });
      if (keyed && !delayed) {
        const k = `${inv.service}\u0000${inv.key}`;
        const entry = inboxAppends.get(k) ?? { service: inv.service, key: inv.key, ids: [] };
        entry.ids.push(inv.id);
        inboxAppends.set(k, entry);
      }
    } else {
      const entry = awakeables.get(effect.target) ?? { target: effect.target, items: [], effects: [] };
      entry.items.push({ index: effect.index, completion: effect.completion });
      entry.effects.push(effect);
      awakeables.set(effect.target, entry);
    }
  });
  let ownAppends: string[] = [];
  for (const a of inboxAppends.values()) {
    if (own && a.service === own.service && a.key === own.key) ownAppends = a.ids;
    else ops.push(inboxAppendOp('effect-inbox', a.service, a.key, a.ids));
  }
  const awakened: string[] = [];
  for (const a of awakeables.values()) {
    const role = `effect:awk:${a.target}`;
    awakened.push(a.target);
    ops.push({ role, key: keys.invocation(a.target), kind: 'update', expr: awakeableEffectExpr(a.target, a.items, now) });
    byRole.set(role, a.effects[0]!);
  }
  return { ops, byRole, created, awakened, ownAppends };
}

/**
 * Awakeable results a service sent with its journal entries: each is kept if its index has none
 * yet (first wins, without failing the others) and applied at replay only where the journal has
 * an awakeable. Only a target that is not running (finished, unknown, not started) refuses them.
 */
export function awakeableEffectExpr(target: string, items: { index: number; completion: Completion }[], now: number): Expr {
  const e = new Expr();
  e.when(`${e.n(ATTR.status)} IN (${e.v(InvocationStatus.Invoked)}, ${e.v(InvocationStatus.Suspended)}) AND attribute_exists(${e.n(ATTR.awakeables)})`);
  for (const { index, completion } of items) {
    const path = e.p(ATTR.awakeables, completionName(index));
    e.set(path, `if_not_exists(${path}, ${e.v(toStoredCompletion(completion))})`);
  }
  e.setValue(e.n(ATTR.modified), now);
  setDue(e, target, now);
  return e;
}

/**
 * Completes awakeables of `target`: applied only where its journal has an awakeable entry at that
 * index, or has no entry there yet (it is held and applied only if an awakeable turns up there).
 * First wins; a finished or not yet started invocation takes none.
 */
export function awakeableExpr(target: string, items: { index: number; completion: Completion }[], now: number): Expr {
  const e = new Expr();
  const status = e.n(ATTR.status);
  e.when(`${status} IN (${e.v(InvocationStatus.Invoked)}, ${e.v(InvocationStatus.Suspended)})`);
  for (const { index, completion } of items) {
    const path = e.p(ATTR.awakeables, completionName(index));
    const entry = e.p(ATTR.journal, index - 1);
    e.when(`attribute_not_exists(${path}) AND attribute_not_exists(${e.p(ATTR.completions, completionName(index))})`);
    e.when(`attribute_not_exists(${entry}) OR ${e.p(ATTR.journal, index - 1, 't')} = ${e.v(MessageType.Awakeable)}`);
    e.setValue(path, toStoredCompletion(completion));
  }
  e.setValue(e.n(ATTR.modified), now);
  setDue(e, target, now);
  return e;
}

export function setDue(e: Expr, id: string, dueAt: number): void {
  for (const [name, value] of Object.entries(dueAttributes(id, dueAt))) e.setValue(e.n(name), value);
}
