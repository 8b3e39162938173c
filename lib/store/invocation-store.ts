/**
 * Invocations in DynamoDB: one named method per transition, each with its condition in one place.
 * Only the lib/store files speak DynamoDB.
 *
 *            accept ──▶ invoked ──take──▶ invoked (leased) ──complete──▶ completed (terminal)
 *   accept(delayed) ─▶ delayed ─take/activate─┘   │  ▲   │
 *   accept(keyed) ──▶ inboxed ──take (head)───────┘  │   ├─suspend──▶ suspended ──take (due)──┐
 *                                                    │   ├─retry / release (lease = due time)  │
 *                                                    └───┴──────────────────────────────────────┘
 *   kill: any unfinished status → completed (epoch + 1, so any running attempt is fenced)
 *
 * Rules every method keeps:
 * - **The table is the only truth.** Whatever needs a future action carries its due time in the
 *   `due` index, written in the same request that makes it so: a runnable or leased invocation
 *   (lease end), a retry (its time), a suspension with a timer (wake time), a completion or cancel
 *   that arrived (now), a delayed send (its time), an inbox head after a hand-over (now). The sweep
 *   drives whatever is due; kicks and timers only make it faster.
 * - **Fencing.** Every write of an attempt is conditional on its epoch and on status `invoked`;
 *   taking bumps the epoch, and so does kill. Terminal is terminal: nothing leaves `completed`.
 * - **Effects commit with the journal.** Children, sends and awakeable completions an attempt
 *   produced are written in the same transaction as the journal entries that made them.
 * - **A child's result and its caller's completion commit together** (one transaction), and so do
 *   a key's lock hand-over and the next holder becoming due.
 * - Every refused write says why: exists, stale attempt, condition not met (with the stored item,
 *   never an extra read), conflict (retried here), too large, unavailable.
 */
import { randomUUID } from 'node:crypto';
import { ReturnValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { BATCH_GET_MAX, batchGetItems } from './batch-get.js';
import { NotFoundError } from '../errors.js';
import { MessageType } from '../protocol/framing.js';
import { Expr } from './expression.js';
import {
  ATTR,
  DUE_INDEX_SHARDS,
  dueFromSortKey,
  dueSortKey,
  instanceFromItem,
  InvocationStatus,
  newInvocationItem,
  recordFromItem,
  toStoredCompletion,
  type Completion,
  type FailureInfo,
  type InvocationRecord,
  type InvocationResult,
  type NewInvocation,
  type ServiceInstance,
} from './invocation-item.js';
import { isExpired, keys, TABLE_SCHEMA, type TableClients } from './table.js';
import { collides, transactInput, type TxOp } from './transaction.js';
import {
  attemptUpdate,
  awakeableExpr,
  becomeDueOp,
  callerCompletionOp,
  createOp,
  effectOps,
  inboxAppendOp,
  instanceUpdate,
  NO_PROGRESS,
  setDue,
  type AttemptEnd,
  type AttemptProgress,
  type AttemptRef,
  type AwaitedEntry,
  type CommitOutcome,
  type StartMode,
  type StoreEffect,
  type TakeOutcome,
  type AwakeableOutcome,
} from './operations.js';
import {
  cancellationReasons,
  conditionFailure,
  conflictBackoff,
  InvocationExistsError,
  isItemTooLarge,
  isTransient,
  ItemTooLargeError,
  StaleAttemptError,
  StoreUnavailableError,
  storeFailure,
  type CancellationReason,
} from './write-errors.js';

export * from './invocation-item.js';
export * from './operations.js';
export { InvocationExistsError, ItemTooLargeError, StaleAttemptError, StoreUnavailableError } from './write-errors.js';

/** A transaction item limit with room to spare; more effects than this wait for the next round. */
export const MAX_EFFECTS_PER_COMMIT = 40;

const CONFLICT_RETRIES = 8;

export class InvocationStore {
  constructor(
    private readonly tables: TableClients,
    private readonly now: () => number = Date.now,
  ) {}

  private get table(): string {
    return this.tables.tableName;
  }

  // Reads ----------------------------------------------------------------------------------------

  async get(id: string): Promise<InvocationRecord | undefined> {
    const res = await this.tables.doc.send(new GetCommand({ TableName: this.table, Key: keys.invocation(id), ConsistentRead: true }));
    if (!res.Item || isExpired(res.Item, this.now())) return undefined;
    return recordFromItem(res.Item);
  }

  /** The key's lock holder, inbox and state (strongly consistent). */
  async getInstance(service: string, key: string): Promise<ServiceInstance> {
    const res = await this.tables.doc.send(new GetCommand({ TableName: this.table, Key: keys.instance(service, key), ConsistentRead: true }));
    return instanceFromItem(res.Item);
  }

  // accept ---------------------------------------------------------------------------------------

  /**
   * The accept write. Refused with InvocationExistsError (carrying the stored invocation) when the
   * id is taken; an id whose finished invocation's retention passed can be used again.
   */
  async accept(inv: NewInvocation, start: StartMode): Promise<InvocationRecord> {
    const now = this.now();
    const token = randomUUID();
    const keyed = inv.kind !== 'unkeyed';
    let at: Parameters<typeof newInvocationItem>[2];
    if (start.kind === 'delayed') at = { status: InvocationStatus.Delayed, epoch: 0, leaseUntil: 0, dueAt: start.until, attempts: 0, token };
    else if (start.kind === 'take' && !keyed)
      at = { status: InvocationStatus.Invoked, epoch: 1, leaseUntil: now + start.leaseMs, dueAt: now + start.leaseMs, attempts: 1, token };
    else if (keyed) at = { status: InvocationStatus.Inboxed, epoch: 0, leaseUntil: 0, dueAt: now, attempts: 0, token };
    else at = { status: InvocationStatus.Invoked, epoch: 0, leaseUntil: 0, dueAt: now, attempts: 0, token };
    const item = newInvocationItem(inv, now, at);
    const ops: TxOp[] = [createOp('self', item, now)];
    if (keyed && start.kind !== 'delayed') ops.push(inboxAppendOp('inbox', inv.service, inv.key, [inv.id]));
    try {
      await this.run(ops, `accept ${inv.id}`, (reasons) => {
        const old = reasons[0]?.item;
        if (reasons[0]?.code === 'ConditionalCheckFailed' && old) return this.existing(old, token, inv.id);
        return undefined;
      });
    } catch (err) {
      if (err instanceof OwnWriteLanded) return err.rec;
      // The answer was lost: the write may have landed. Our token tells.
      if (isTransient(err)) {
        const stored = await this.getRaw(inv.id).catch(() => undefined);
        if (stored?.[ATTR.token] === token) return recordFromItem(stored);
      }
      throw storeFailure(err, `accept ${inv.id}`);
    }
    return recordFromItem(item);
  }

  private existing(old: Record<string, unknown>, token: string, id: string): never {
    // Our own earlier try landed and its answer was lost (the SDK retried): that is success.
    if (old[ATTR.token] === token) throw new OwnWriteLanded(recordFromItem(old));
    if (isExpired(old, this.now()) && old.status === InvocationStatus.Completed)
      throw new StoreUnavailableError(`invocation ${id}: the expired record is being replaced; try again`);
    throw new InvocationExistsError(recordFromItem(old));
  }

  // take -----------------------------------------------------------------------------------------

  /**
   * Takes the invocation for a new attempt: bumps the epoch and sets a lease. Allowed for a
   * runnable invocation whose lease lapsed, a suspended one that is due, an unkeyed delayed send
   * that is due, and (with `head`, when the caller just read that it holds its key's lock) one
   * waiting in its inbox. Refusals carry the stored record.
   *
   *   lease:  ├──── held by an attempt ────┤ lapsed: anyone may take (epoch + 1)
   */
  async take(id: string, leaseMs: number, opts: { head?: boolean } = {}): Promise<TakeOutcome> {
    const now = this.now();
    const token = randomUUID();
    const e = new Expr();
    const status = e.n(ATTR.status);
    const due = e.n(ATTR.due);
    const runnableLapsed = `${status} = ${e.v(InvocationStatus.Invoked)} AND ${e.n(ATTR.lease)} <= ${e.v(now)}`;
    const suspendedDue = `${status} = ${e.v(InvocationStatus.Suspended)} AND ${due} <= ${e.v(now)}`;
    const delayedDue = `${status} = ${e.v(InvocationStatus.Delayed)} AND ${due} <= ${e.v(now)} AND ${e.n('kind')} = ${e.v('unkeyed')}`;
    const allowed = [runnableLapsed, suspendedDue, delayedDue, ...(opts.head ? [`${status} = ${e.v(InvocationStatus.Inboxed)}`] : [])];
    e.when(`attribute_exists(${e.n('pk')})`).when(allowed.map((c) => `(${c})`).join(' OR '));
    const leaseUntil = now + leaseMs;
    e.set(e.n(ATTR.epoch), `${e.n(ATTR.epoch)} + ${e.v(1)}`)
      .setValue(e.n(ATTR.lease), leaseUntil)
      .setValue(status, InvocationStatus.Invoked)
      .setValue(e.n(ATTR.modified), now)
      .setValue(e.n(ATTR.token), token)
      .add(e.n(ATTR.attempts), 1);
    setDue(e, id, leaseUntil);
    try {
      const res = await this.tables.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.invocation(id),
          ...e.update(),
          ReturnValues: ReturnValue.ALL_NEW,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { taken: true, rec: recordFromItem(res.Attributes as Record<string, unknown>) };
    } catch (err) {
      const failed = conditionFailure(err);
      // The SDK retried a take whose answer was lost: the refusal carries our own token.
      if (failed?.item?.[ATTR.token] === token) return { taken: true, rec: recordFromItem(failed.item) };
      if (failed) return { taken: false, stored: failed.item ? recordFromItem(failed.item) : undefined };
      if (isTransient(err)) {
        // The answer was lost: if our token is there, the take landed and the attempt is ours.
        const stored = await this.getRaw(id).catch(() => undefined);
        if (stored?.[ATTR.token] === token) return { taken: true, rec: recordFromItem(stored) };
      }
      throw storeFailure(err, `take ${id}`);
    }
  }

  private async getRaw(id: string): Promise<Record<string, unknown> | undefined> {
    const res = await this.tables.doc.send(new GetCommand({ TableName: this.table, Key: keys.invocation(id), ConsistentRead: true }));
    return res.Item;
  }

  /**
   * A keyed delayed send is due: it joins its key's inbox, atomically with the status change (so
   * exactly once), and is due at once so its turn is checked. False when it was not delayed (any
   * more) or not yet due.
   */
  async activateDelayed(rec: Pick<InvocationRecord, 'id' | 'service' | 'key'>): Promise<boolean> {
    const now = this.now();
    const e = new Expr();
    e.when(`${e.n(ATTR.status)} = ${e.v(InvocationStatus.Delayed)} AND ${e.n(ATTR.due)} <= ${e.v(now)}`);
    e.setValue(e.n(ATTR.status), InvocationStatus.Inboxed).setValue(e.n(ATTR.modified), now);
    setDue(e, rec.id, now);
    try {
      await this.run(
        [{ role: 'self', key: keys.invocation(rec.id), kind: 'update', expr: e }, inboxAppendOp('inbox', rec.service, rec.key, [rec.id])],
        `activate ${rec.id}`,
        (reasons) => {
          if (reasons[0]?.code === 'ConditionalCheckFailed') throw new NotActivated();
          return undefined;
        },
      );
      return true;
    } catch (err) {
      if (err instanceof NotActivated) return false;
      throw storeFailure(err, `activate ${rec.id}`);
    }
  }

  /**
   * An inboxed invocation that is not its key's head leaves the due index: the holder's hand-over
   * puts it back when its turn comes. Conditional on it not being the head (checked on the inbox
   * item in the same transaction), so a hand-over that just happened is never undone.
   */
  async parkWaiter(rec: Pick<InvocationRecord, 'id' | 'epoch' | 'service' | 'key'>): Promise<'parked' | 'not-parked'> {
    const self = new Expr();
    self.when(`${self.n(ATTR.status)} = ${self.v(InvocationStatus.Inboxed)} AND ${self.n(ATTR.epoch)} = ${self.v(rec.epoch)}`);
    self.remove(self.n(ATTR.due), self.n(ATTR.gsiPk), self.n(ATTR.gsiSk));
    const inbox = new Expr();
    const q = inbox.n(ATTR.queue);
    inbox.when(`contains(${q}, ${inbox.v(rec.id)}) AND ${inbox.p(ATTR.queue, 0)} <> ${inbox.v(rec.id)}`);
    try {
      await this.run(
        [
          { role: 'self', key: keys.invocation(rec.id), kind: 'update', expr: self },
          { role: 'inbox', key: keys.instance(rec.service, rec.key), kind: 'check', expr: inbox },
        ],
        `park ${rec.id}`,
        (reasons) => {
          if (reasons.some((r) => r.code === 'ConditionalCheckFailed')) throw new NotActivated();
          return undefined;
        },
      );
      return 'parked';
    } catch (err) {
      if (err instanceof NotActivated) return 'not-parked';
      throw storeFailure(err, `park ${rec.id}`);
    }
  }

  // Attempt transitions --------------------------------------------------------------------------

  /** Progress, and the attempt goes on in this process (inline wait or an immediate resume). */
  continueInline(ref: AttemptRef, progress: AttemptProgress, at: { leaseUntil: number; dueAt?: number }): Promise<CommitOutcome> {
    return this.commit(ref, progress, { kind: 'continue', ...at });
  }

  /**
   * Progress, and the invocation waits for `awaiting`: the lease is released, the key lock kept.
   * Due at `dueAt` (a timer) or not at all (a completion will make it due). Refused, with nothing
   * written, when one of the awaited completions (or a cancel) arrived meanwhile.
   */
  suspend(ref: AttemptRef, progress: AttemptProgress, wait: { dueAt?: number; awaiting: AwaitedEntry[] }): Promise<CommitOutcome> {
    return this.commit(ref, progress, { kind: 'suspend', ...wait });
  }

  /** The attempt failed: runnable again at `at` (the lease blocks takes until then). */
  retryLater(ref: AttemptRef, at: number, failure: FailureInfo): Promise<CommitOutcome> {
    return this.commit(ref, NO_PROGRESS, { kind: 'retry', at, failure });
  }

  /** The attempt stops without failing (hand-off at a caller's deadline): runnable at `at` by anyone. */
  release(ref: AttemptRef, at: number): Promise<CommitOutcome> {
    return this.commit(ref, NO_PROGRESS, { kind: 'release', at });
  }

  /**
   * The invocation ends with `result`. In one transaction: the result, the caller's completion, the
   * key's lock passed to the next in line (which becomes due), and the attempt's last effects.
   */
  complete(ref: AttemptRef, progress: AttemptProgress, result: InvocationResult): Promise<CommitOutcome> {
    return this.commit(ref, progress, { kind: 'complete', result });
  }

  private async commit(ref: AttemptRef, given: AttemptProgress, end: AttemptEnd): Promise<CommitOutcome> {
    let queue = ref.queue;
    // An awakeable of our own is completed in our own update (one operation per item).
    const own = given.effects.filter((x): x is StoreEffect & { kind: 'awakeable' } => x.kind === 'awakeable' && x.target === ref.id);
    const progress: AttemptProgress = own.length
      ? { ...given, awakeables: new Map([...(given.awakeables ?? []), ...own.map((x) => [x.index, x.completion] as const)]) }
      : given;
    let effects = given.effects.filter((x) => !own.includes(x as StoreEffect & { kind: 'awakeable' }));
    const dropped: StoreEffect[] = [];
    let includeCaller = end.kind === 'complete' && ref.caller !== undefined;
    let includeNext = true;
    for (let round = 0; ; round++) {
      const now = this.now();
      const keyed = ref.kind !== 'unkeyed';
      const endOps: TxOp[] = [];
      const self = attemptUpdate(ref, { ...progress, effects }, end, now);
      const effectWrites = effectOps(effects, now, keyed ? ref : undefined);
      const completing = end.kind === 'complete';
      // A completing attempt whose last entries touch what its ending touches (a send to its own
      // key: the inbox it leaves; an awakeable of its caller) is written in two steps: every entry
      // but the output first, as progress; then the output and the ending. If the second write
      // never happens, the journal holds no output and the next attempt simply produces it again.
      const last = progress.append.at(-1);
      if (completing && last?.type === MessageType.OutputStream && progress.append.length + effects.length > 1) {
        const callerOp = includeCaller && ref.caller ? [callerCompletionOp(ref.caller.invocationId, ref.caller.entryIndex, end.result, now)] : [];
        if (effectWrites.ownAppends.length > 0 || collides([...callerOp, ...effectWrites.ops])) {
          const before = progress.append.slice(0, -1);
          const first = await this.commit({ ...ref, queue }, { ...progress, append: before, effects }, { kind: 'continue', leaseUntil: ref.leaseUntil });
          if (first.kind !== 'committed') return first;
          const second = await this.commit(
            { ...ref, queue: undefined, journal: [...ref.journal, ...before] },
            { ...NO_PROGRESS, append: [last], pin: progress.pin },
            end,
          );
          return this.withCreated(first, second);
        }
      }
      let nextHead: string | undefined;
      if (keyed && (completing || progress.state || effectWrites.ownAppends.length > 0)) {
        if (completing && queue === undefined) queue = (await this.getInstance(ref.service, ref.key)).queue;
        nextHead = completing && includeNext ? queue?.[1] : undefined;
        endOps.push(
          instanceUpdate(ref, progress.state, completing, completing ? (includeNext ? (queue?.[1] ?? null) : undefined) : undefined, effectWrites.ownAppends),
        );
        if (nextHead) endOps.push(becomeDueOp('next', nextHead, now));
      }
      if (includeCaller && ref.caller && end.kind === 'complete')
        endOps.push(callerCompletionOp(ref.caller.invocationId, ref.caller.entryIndex, end.result, now));
      if (collides([self, ...endOps, ...effectWrites.ops])) throw new Error(`invocation ${ref.id}: two operations of one write touch the same item`);
      const ops = [self, ...endOps, ...effectWrites.ops];
      try {
        if (ops.length === 1) {
          await this.tables.doc.send(
            new UpdateCommand({ TableName: this.table, Key: ops[0]!.key, ...self.expr.update(), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
          );
        } else {
          await this.tables.doc.send(new TransactWriteCommand(transactInput(this.table, ops)));
        }
        return {
          kind: 'committed',
          created: effectWrites.created.map((c) => ({
            inv: c.effect.inv,
            ...(c.effect.delayedUntil !== undefined && c.effect.delayedUntil > now ? { delayedUntil: c.effect.delayedUntil } : {}),
          })),
          awakened: effectWrites.awakened,
          dropped,
          ...(nextHead ? { nextHolder: nextHead } : {}),
        };
      } catch (err) {
        const single = ops.length === 1 ? conditionFailure(err) : undefined;
        const reasons = single ? [{ code: 'ConditionalCheckFailed', item: single.item } as CancellationReason] : cancellationReasons(err);
        if (!reasons) {
          if (isItemTooLarge(err)) throw new ItemTooLargeError(`invocation ${ref.id}: the journal or state outgrew the 400 KB item limit`, { cause: err });
          throw storeFailure(err, `write attempt of ${ref.id}`);
        }
        if (reasons.some((r) => r.code === 'ValidationError' || /size/i.test(r.message ?? ''))) {
          const tooBig = reasons.find((r) => /size/i.test(r.message ?? ''));
          if (tooBig) throw new ItemTooLargeError(`invocation ${ref.id}: the journal or state outgrew the 400 KB item limit`, { cause: err });
          throw storeFailure(err, `write attempt of ${ref.id}`);
        }
        const selfReason = reasons[0];
        if (selfReason?.code === 'ConditionalCheckFailed') {
          const landed = this.ownFailure(ref, progress, end, selfReason.item);
          if (landed) return landed.kind === 'committed' ? { ...landed, dropped } : landed;
        }
        let retry = false;
        ops.forEach((op, i) => {
          const r = reasons[i];
          if (!r || r.code === 'None') return;
          if (r.code === 'TransactionConflict') retry = true;
          if (r.code !== 'ConditionalCheckFailed') return;
          if (op.role === 'inbox') {
            // Our view of the inbox is old (someone joined or left); read it again. Losing the
            // lock itself is checked below.
            queue = undefined;
            retry = true;
          } else if (op.role === 'caller') {
            includeCaller = false; // the caller finished (killed) or is gone: nobody to tell
            retry = true;
          } else if (op.role === 'next') {
            queue = undefined;
            if (round >= 2) includeNext = false;
            retry = true;
          } else if (op.role.startsWith('effect:')) {
            const effect = effectWrites.byRole.get(op.role);
            effects = effects.filter((x) => x !== effect && !(effect?.kind === 'awakeable' && x.kind === 'awakeable' && x.target === effect.target));
            if (effect) dropped.push(effect);
            retry = true;
          }
        });
        if (ops.find((op, i) => op.role === 'inbox' && reasons[i]?.code === 'ConditionalCheckFailed')) {
          const instance = await this.getInstance(ref.service, ref.key);
          if (instance.queue[0] !== ref.id) throw new StaleAttemptError(`invocation ${ref.id} does not hold the lock of its key`);
          queue = instance.queue;
        }
        if (!retry || round >= CONFLICT_RETRIES)
          throw new StoreUnavailableError(`write attempt of ${ref.id}: refused (${reasons.map((r) => r.code).join(', ')})`, { cause: err });
        if (reasons.some((r) => r.code === 'TransactionConflict')) await conflictBackoff(round);
        if (process.env.RESTLESS_DEBUG_STORE) console.error('commit retry', ref.id, round, reasons.map((r) => r.code).join(','));
      }
    }
  }

  private withCreated(first: CommitOutcome & { kind: 'committed' }, second: CommitOutcome): CommitOutcome {
    if (second.kind !== 'committed') return second;
    return {
      ...second,
      created: [...first.created, ...second.created],
      awakened: [...first.awakened, ...second.awakened],
      dropped: [...first.dropped, ...second.dropped],
    };
  }

  /**
   * Our own update's condition failed. Either a newer attempt (or kill) owns the invocation, or a
   * suspension found what it waits for, or the same write already landed and its answer was lost
   * (the SDK retried it): the journal length and status tell.
   */
  private ownFailure(ref: AttemptRef, progress: AttemptProgress, end: AttemptEnd, item: Record<string, unknown> | undefined): CommitOutcome | undefined {
    if (!item) throw new NotFoundError(`invocation ${ref.id} not found`);
    const stored = recordFromItem(item);
    if (stored.epoch !== ref.epoch)
      throw new StaleAttemptError(`invocation ${ref.id}: a newer attempt owns it (epoch ${stored.epoch}, ours ${ref.epoch})`, stored);
    const expectedLength = ref.journal.length + progress.append.length;
    const landed =
      (end.kind === 'complete' && stored.status === InvocationStatus.Completed) ||
      (end.kind === 'suspend' && stored.status === InvocationStatus.Suspended && stored.journal.length === expectedLength) ||
      (end.kind !== 'complete' &&
        end.kind !== 'suspend' &&
        stored.status === InvocationStatus.Invoked &&
        stored.journal.length === expectedLength &&
        stored.leaseUntil === endLease(end));
    if (landed) return { kind: 'committed', created: [], awakened: [], dropped: [] };
    if (stored.status !== InvocationStatus.Invoked) throw new StaleAttemptError(`invocation ${ref.id} is ${stored.status}`, stored);
    if (stored.journal.length !== ref.journal.length) throw new StaleAttemptError(`invocation ${ref.id}: the journal moved under the attempt`, stored);
    if (end.kind === 'suspend') return { kind: 'woken', stored };
    throw new StaleAttemptError(`invocation ${ref.id}: write refused`, stored);
  }

  /**
   * Resolves or rejects an awakeable from outside (the ingress API). Says exactly what happened;
   * nothing is stored unless it is 'stored'.
   */
  async completeAwakeable(target: string, index: number, completion: Completion): Promise<AwakeableOutcome> {
    if (!Number.isSafeInteger(index) || index < 1) return 'not-awakeable';
    const e = awakeableExpr(target, [{ index, completion }], this.now());
    try {
      await this.tables.doc.send(
        new UpdateCommand({ TableName: this.table, Key: keys.invocation(target), ...e.update(), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
      );
      return 'stored';
    } catch (err) {
      const failed = conditionFailure(err);
      if (!failed) throw storeFailure(err, `complete awakeable of ${target}`);
      if (!failed.item || isExpired(failed.item, this.now())) return 'not-found';
      const stored = recordFromItem(failed.item);
      if (stored.status === InvocationStatus.Completed) return 'finished';
      if (stored.status !== InvocationStatus.Invoked && stored.status !== InvocationStatus.Suspended) return 'not-started';
      const entry = stored.journal[index - 1];
      if (entry && entry.type !== MessageType.Awakeable) return 'not-awakeable';
      return 'duplicate';
    }
  }

  // Operator actions -----------------------------------------------------------------------------

  /**
   * Ends an unfinished invocation from outside (kill, or cancel of one that never started): bumps
   * the epoch (fencing any attempt in any process), stores `result`, and in the same transaction
   * tells its caller, leaves its key's inbox and, if it held the lock, makes the next holder due.
   * Returns the record before the change, or undefined if it had already finished.
   */
  async kill(id: string, result: InvocationResult): Promise<{ before: InvocationRecord; nextHolder?: string } | undefined> {
    let includeCaller = true;
    // The last write whose outcome we did not see: a lost answer, or a refusal of the SDK's retry
    // of a write that had landed. Finding it landed on the next read, the kill is ours after all.
    let unsure: { before: InvocationRecord; nextHolder?: string } | undefined;
    for (let round = 0; ; round++) {
      const rec = await this.get(id);
      if (!rec) throw new NotFoundError(`invocation ${id} not found`);
      if (rec.status === InvocationStatus.Completed) {
        const ours = unsure !== undefined && rec.epoch === unsure.before.epoch + 1 && sameFailure(rec.result, result);
        return ours ? unsure : undefined;
      }
      const now = this.now();
      const e = new Expr();
      // As read: the same attempt, status and journal (a child created meanwhile would escape the kill).
      e.when(`${e.n(ATTR.epoch)} = ${e.v(rec.epoch)} AND ${e.n(ATTR.status)} = ${e.v(rec.status)} AND size(${e.n(ATTR.journal)}) = ${e.v(rec.journal.length)}`);
      e.set(e.n(ATTR.epoch), `${e.n(ATTR.epoch)} + ${e.v(1)}`)
        .setValue(e.n(ATTR.status), InvocationStatus.Completed)
        .setValue(e.n(ATTR.result), toStoredCompletion(result))
        .setValue(e.n(ATTR.modified), now)
        .setValue(e.n(ATTR.expires), Math.ceil((now + rec.retentionSec * 1000) / 1000))
        .remove(
          e.n(ATTR.lease),
          e.n(ATTR.due),
          e.n(ATTR.gsiPk),
          e.n(ATTR.gsiSk),
          e.n(ATTR.journal),
          e.n(ATTR.completions),
          e.n(ATTR.awakeables),
          e.n(ATTR.state),
          e.n(ATTR.pinned),
          e.n(ATTR.cancel),
          e.n(ATTR.cancelDone),
        );
      const ops: TxOp[] = [{ role: 'self', key: keys.invocation(id), kind: 'update', expr: e }];
      let nextHolder: string | undefined;
      if (rec.kind !== 'unkeyed' && rec.status !== InvocationStatus.Delayed) {
        const { queue } = await this.getInstance(rec.service, rec.key);
        const position = queue.indexOf(id);
        if (position >= 0) {
          const q = new Expr();
          q.when(`${q.p(ATTR.queue, position)} = ${q.v(id)}`);
          if (position === 0) {
            nextHolder = queue[1];
            if (nextHolder) q.when(`${q.p(ATTR.queue, 1)} = ${q.v(nextHolder)}`);
            else q.when(`attribute_not_exists(${q.p(ATTR.queue, 1)})`);
          }
          q.remove(q.p(ATTR.queue, position));
          ops.push({ role: 'inbox', key: keys.instance(rec.service, rec.key), kind: 'update', expr: q });
          if (nextHolder) ops.push(becomeDueOp('next', nextHolder, now));
        }
      }
      if (rec.caller && includeCaller) ops.push(callerCompletionOp(rec.caller.invocationId, rec.caller.entryIndex, result, now));
      try {
        if (ops.length === 1) await this.tables.doc.send(new UpdateCommand({ TableName: this.table, Key: keys.invocation(id), ...e.update() }));
        else await this.tables.doc.send(new TransactWriteCommand(transactInput(this.table, ops)));
        return { before: rec, nextHolder };
      } catch (err) {
        unsure = { before: rec, nextHolder };
        if (isTransient(err) && round < CONFLICT_RETRIES) continue;
        const reasons = ops.length === 1 ? (conditionFailure(err) ? [{ code: 'ConditionalCheckFailed' }] : undefined) : cancellationReasons(err);
        if (!reasons || round >= CONFLICT_RETRIES) throw storeFailure(err, `kill ${id}`);
        const callerIndex = ops.findIndex((op) => op.role === 'caller');
        if (callerIndex >= 0 && reasons[callerIndex]?.code === 'ConditionalCheckFailed') includeCaller = false;
        if (reasons.some((r) => r.code === 'TransactionConflict')) await conflictBackoff(round);
        // Anything else moved under us (a new attempt, the inbox): read again and retry.
      }
    }
  }

  /**
   * Marks a running or suspended invocation for a graceful cancel and makes it due, so its next
   * attempt fails the pending entries with CANCELLED. Undefined when it had finished; the record
   * as it was when it has not started (inbox, delayed: end it instead).
   */
  async requestCancel(id: string): Promise<InvocationRecord | undefined> {
    const now = this.now();
    const e = new Expr();
    e.when(`${e.n(ATTR.status)} IN (${e.v(InvocationStatus.Invoked)}, ${e.v(InvocationStatus.Suspended)})`);
    e.add(e.n(ATTR.cancel), 1).setValue(e.n(ATTR.modified), now);
    setDue(e, id, now);
    try {
      const res = await this.tables.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: keys.invocation(id),
          ...e.update(),
          ReturnValues: ReturnValue.ALL_NEW,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return recordFromItem(res.Attributes as Record<string, unknown>);
    } catch (err) {
      const failed = conditionFailure(err);
      if (!failed) throw storeFailure(err, `cancel ${id}`);
      if (!failed.item) throw new NotFoundError(`invocation ${id} not found`);
      const stored = recordFromItem(failed.item);
      return stored.status === InvocationStatus.Completed ? undefined : stored;
    }
  }

  // The due index --------------------------------------------------------------------------------

  /** Invocations due before `beforeMs` (oldest first per shard): what the sweep drives. */
  async dueInvocations(beforeMs: number, limitPerShard = 1000): Promise<string[]> {
    const entries = await this.queryDue(`${TABLE_SCHEMA.dueIndex.sortKey} < :before`, { ':before': dueSortKey(beforeMs, '') }, limitPerShard);
    return entries.map((e) => e.id);
  }

  /** Invocations due in [fromMs, toMs): a local timer service re-arms them after a restart. */
  async dueBetween(fromMs: number, toMs: number, limitPerShard = 1000): Promise<{ id: string; dueAt: number }[]> {
    return this.queryDue(
      `${TABLE_SCHEMA.dueIndex.sortKey} BETWEEN :from AND :to`,
      { ':from': dueSortKey(fromMs, ''), ':to': dueSortKey(toMs, '') },
      limitPerShard,
    );
  }

  /** Reads every shard, page after page, up to `limitPerShard` entries each (oldest first). */
  private async queryDue(sortCondition: string, values: Record<string, unknown>, limitPerShard: number): Promise<{ id: string; dueAt: number }[]> {
    const shards = Array.from({ length: DUE_INDEX_SHARDS }, (_, i) => `due#${i}`);
    const perShard = await Promise.all(
      shards.map(async (shard) => {
        const out: { id: string; dueAt: number }[] = [];
        let start: Record<string, unknown> | undefined;
        do {
          const res = await this.tables.doc.send(
            new QueryCommand({
              TableName: this.table,
              IndexName: TABLE_SCHEMA.dueIndex.name,
              KeyConditionExpression: `${TABLE_SCHEMA.dueIndex.partitionKey} = :gpk AND ${sortCondition}`,
              ExpressionAttributeValues: { ':gpk': shard, ...values },
              Limit: Math.min(250, limitPerShard - out.length),
              ExclusiveStartKey: start,
            }),
          );
          for (const item of res.Items ?? [])
            out.push({ id: (item.pk as string).slice('inv#'.length), dueAt: dueFromSortKey(item[TABLE_SCHEMA.dueIndex.sortKey] as string) });
          start = res.LastEvaluatedKey;
        } while (start && out.length < limitPerShard);
        return out;
      }),
    );
    return perShard.flat();
  }

  /**
   * How many unfinished invocations have journaled progress against a deployment: those in the
   * `pinned` index, and those whose attempt goes on (pinned on the item only, see attemptUpdate),
   * found through the `due` index, where every leased invocation stands. An admin read: it reads
   * the items of every invocation in the `due` index (a few attributes each, strongly consistent).
   */
  async countPinned(endpointId: string): Promise<number> {
    const [indexed, running] = await Promise.all([this.countPinnedIndex(endpointId), this.countRunningPinned(endpointId)]);
    return indexed + running;
  }

  private async countRunningPinned(endpointId: string): Promise<number> {
    // Concurrent counts (GET /endpoints asks for every deployment at once) share one scan.
    this.runningScan ??= this.scanRunningPinned().finally(() => (this.runningScan = undefined));
    return (await this.runningScan).get(endpointId) ?? 0;
  }

  private runningScan: Promise<Map<string, number>> | undefined;

  /** Leased (or retrying) invocations with progress and no `pinned` index entry, by deployment. */
  private async scanRunningPinned(): Promise<Map<string, number>> {
    const due = await this.queryDue(`${TABLE_SCHEMA.dueIndex.sortKey} >= :from`, { ':from': dueSortKey(0, '') }, Number.POSITIVE_INFINITY);
    const ids = [...new Set(due.map((d) => d.id))];
    const counts = new Map<string, number>();
    for (let i = 0; i < ids.length; i += BATCH_GET_MAX) {
      const items = await batchGetItems(
        this.tables,
        ids.slice(i, i + BATCH_GET_MAX).map((id) => keys.invocation(id)),
        {
          projection: '#s, #e, #p, #j[0].t',
          names: { '#s': ATTR.status, '#e': ATTR.endpoint, '#p': ATTR.pinned, '#j': ATTR.journal },
          consistent: true,
        },
      );
      for (const item of items) {
        const progressed = Array.isArray(item[ATTR.journal]) && (item[ATTR.journal] as unknown[]).length > 0;
        // One that carries the index key is counted through the index.
        if (item[ATTR.status] !== InvocationStatus.Invoked || !progressed || item[ATTR.pinned] !== undefined) continue;
        const endpoint = item[ATTR.endpoint] as string;
        counts.set(endpoint, (counts.get(endpoint) ?? 0) + 1);
      }
    }
    return counts;
  }

  private async countPinnedIndex(endpointId: string): Promise<number> {
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const res = await this.tables.doc.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: TABLE_SCHEMA.pinnedIndex.name,
          KeyConditionExpression: '#p = :p',
          ExpressionAttributeNames: { '#p': TABLE_SCHEMA.pinnedIndex.partitionKey },
          ExpressionAttributeValues: { ':p': endpointId },
          Select: 'COUNT',
          ExclusiveStartKey: start,
        }),
      );
      count += res.Count ?? 0;
      start = res.LastEvaluatedKey;
    } while (start);
    return count;
  }

  // Helpers --------------------------------------------------------------------------------------

  /** Runs one transaction (or a single Put/Update), retrying conflicts; `refused` maps other cancellations. */
  private async run(ops: TxOp[], what: string, refused: (reasons: CancellationReason[]) => undefined): Promise<void> {
    for (let round = 0; ; round++) {
      try {
        if (ops.length === 1 && ops[0]!.kind === 'put') {
          const op = ops[0]!;
          await this.tables.doc.send(
            new PutCommand({ TableName: this.table, Item: op.item, ...op.expr.condition(), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
          );
        } else if (ops.length === 1 && ops[0]!.kind === 'update') {
          await this.tables.doc.send(
            new UpdateCommand({ TableName: this.table, Key: ops[0]!.key, ...ops[0]!.expr.update(), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
          );
        } else {
          await this.tables.doc.send(new TransactWriteCommand(transactInput(this.table, ops)));
        }
        return;
      } catch (err) {
        const single = ops.length === 1 ? conditionFailure(err) : undefined;
        const reasons = single ? [{ code: 'ConditionalCheckFailed', item: single.item }] : cancellationReasons(err);
        if (!reasons) throw err;
        refused(reasons);
        if (reasons.some((r) => /size/i.test(r.message ?? '')))
          throw new ItemTooLargeError(`${what}: the item would exceed DynamoDB's 400 KB limit`, { cause: err });
        if (!reasons.some((r) => r.code === 'TransactionConflict') || round >= CONFLICT_RETRIES) {
          throw new StoreUnavailableError(`${what}: refused (${reasons.map((r) => r.code).join(', ')}); try again`, { cause: err });
        }
        if (process.env.RESTLESS_DEBUG_STORE) console.error('run retry', what, round, reasons.map((r) => r.code).join(','));
        await conflictBackoff(round);
      }
    }
  }
}

/** Whether a stored result is the failure a kill or cancel writes (same code and message). */
function sameFailure(stored: InvocationResult | undefined, written: InvocationResult): boolean {
  return stored?.kind === 'failure' && written.kind === 'failure' && stored.code === written.code && stored.message === written.message;
}

function endLease(end: AttemptEnd): number | undefined {
  if (end.kind === 'continue') return end.leaseUntil;
  if (end.kind === 'retry' || end.kind === 'release') return end.at;
  return undefined;
}

/** Internal signal: the refused create was our own earlier try. */
class OwnWriteLanded extends Error {
  constructor(readonly rec: InvocationRecord) {
    super('own write landed');
  }
}

class NotActivated extends Error {}
