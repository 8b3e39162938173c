/**
 * drive(): moves one invocation forward. The ingress, the timer Lambda and the local runner all
 * call it. Per attempt (request/response mode):
 *
 *   take (epoch+1, lease) ─▶ load state ─▶ POST Start+journal ─▶ read new entries + terminal
 *        ▲                                                          │
 *        └── continue inline (resumable now, short sleep) ◀─────────┤ Suspension → suspend (1 write)
 *                                                                   ├─ End    → complete (1 write)
 *                                                                   └─ Error  → retry at backoff
 *
 * Every write is conditional on the attempt's epoch (lib/store/invocation-store.ts), so a stale
 * attempt changes nothing, and whatever is left to do is in the due index: a crash at any point
 * costs latency, never an invocation. The rules that need no I/O are in plan.ts.
 */
import { context as otelContext, SpanStatusCode, trace } from '@opentelemetry/api';
import type { RuntimeConfig } from '../config.js';
import type { EndpointTransport } from '../endpoint/types.js';
import { Code, FencedError, RestlessError } from '../errors.js';
import { INVOCATION_ID_ATTR, type Logger } from '../log.js';
import type { EndpointRecord, ResolvedService, ServiceResolver } from '../registry/types.js';
import {
  InvocationStatus,
  ItemTooLargeError,
  MAX_EFFECTS_PER_COMMIT,
  NO_PROGRESS,
  type AttemptProgress,
  type AttemptRef,
  type CommitOutcome,
  type Completion,
  type InvocationRecord,
  type InvocationResult,
  type InvocationStore,
  type JournalEntry,
  type NewInvocation,
  type ServiceInstance,
  type StoreEffect,
} from '../store/invocation-store.js';
import { attemptsExhausted, retryDelayMs } from './backoff.js';
import { buildRequestBody, parseResponseBody } from './request-response.js';
import { childInvocationId, newInvocationFor } from './enqueue.js';
import {
  CANCELED,
  cancelCompletions,
  entriesThatFit,
  misdirectedAwakeables,
  pendingCallIndexes,
  planEntries,
  planSuspension,
  replayCompletions,
  type PlannedEffect,
} from './plan.js';
import { Flags, MessageType } from '../protocol/framing.js';
import type { CompletionListener, Kicker } from './ports.js';

const decoder = new TextDecoder();
const tracer = trace.getTracer('restless');

export type { CompletionListener, Kicker } from './ports.js';

export interface DriverDeps {
  store: InvocationStore;
  resolver: ServiceResolver;
  transportFor(endpoint: EndpointRecord): EndpointTransport;
  config: RuntimeConfig;
  kicker: Kicker;
  log: Logger;
  listener?: CompletionListener;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Waits at most this long inside the current process (sleep timers, retry backoff). */
  inlineWaitMs?: number;
  /**
   * An attempt still waiting for its endpoint after this long gets a durable deadline timer at
   * its lease end, so a Lambda that dies mid-attempt is recovered then (not only by the sweep).
   * Short attempts, the common case, never pay for a schedule.
   */
  deadlineArmAfterMs?: number;
}

export interface DriveOptions {
  /** The key's lock and state, just read with this invocation at the head (saves a read). */
  instance?: ServiceInstance;
  /**
   * Fires when the caller must stop driving (a synchronous caller's deadline; a Lambda about to be
   * frozen): the attempt is cut and released, and a kick hands it to someone who has time.
   */
  handoff?: AbortSignal;
}

export type DriveOutcome =
  | { kind: 'completed'; result: InvocationResult }
  | { kind: 'suspended' }
  | { kind: 'retrying'; atMs: number }
  /** Stopped at the caller's request; released for another process to carry on. */
  | { kind: 'handed-off' }
  /** Someone else owns the invocation (a newer attempt, a lease that has not lapsed), it waits, or it is done. */
  | {
      kind: 'skipped';
      reason: string;
      /** Leased: an attempt runs until then, or ran in a process that died and nothing wakes it at the lease end but a timer. */
      leasedUntil?: number;
    };

/** A failure of one attempt; always retried (the 0.x semantics: only Output failures are terminal). */
export class AttemptError extends Error {
  constructor(
    readonly code: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

class HandedOff extends Error {}

type Step = { kind: 'continue'; rec: AttemptRef } | { kind: 'done'; outcome: DriveOutcome };

/** How early a timer may fire and still be waited for here (clocks and Scheduler differ a little). */
const EARLY_TIMER_TOLERANCE_MS = 2_000;
/**
 * How close to its end a lease is waited out here rather than reported. A timer armed at a lease end
 * (Node's setTimeout runs up to a millisecond ahead of Date.now()) would otherwise find the lease
 * held and leave the invocation to the sweep. Kept short: a kick for a live attempt must not wait.
 */
const LEASE_END_TOLERANCE_MS = 100;

export class Driver {
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly inlineWaitMs: number;
  /** Attempts running in this process, so a kill can cut them at once (elsewhere, fencing stops them). */
  private readonly running = new Map<string, { abort: () => void }>();

  constructor(private readonly deps: DriverDeps) {
    this.now = deps.now ?? Date.now;
    this.sleep = deps.sleep ?? abortableSleep;
    this.inlineWaitMs = deps.inlineWaitMs ?? 2_000;
  }

  get leaseMs(): number {
    return this.deps.config.inactivityTimeoutMs + this.deps.config.abortTimeoutMs + 5_000;
  }

  /** Cuts the attempt of `id` running in this process, if any (kill). */
  abortAttempt(id: string): void {
    this.running.get(id)?.abort();
  }

  /**
   * Drives `id` if there is something to do: takes it when runnable and not leased, due after a
   * suspension, a due delayed send, or the head of its key's inbox. Anything else is a no-op, so
   * a doubled, late or stray kick or timer costs one conditional write at most.
   */
  async driveById(id: string, opts: DriveOptions = {}): Promise<DriveOutcome> {
    for (let round = 0; round < 3; round++) {
      // The caller just read that it holds its key's lock: take it as the head straight away.
      const taken = await this.deps.store.take(id, this.leaseMs, { head: opts.instance?.queue[0] === id });
      if (taken.taken) return this.drive(taken.rec, opts);
      const stored = taken.stored;
      if (!stored) return { kind: 'skipped', reason: `invocation ${id} not found` };
      const now = this.now();
      switch (stored.status) {
        case InvocationStatus.Completed:
          return { kind: 'skipped', reason: 'finished' };
        case InvocationStatus.Delayed:
          if (stored.dueAt !== undefined && stored.dueAt <= now && stored.kind !== 'unkeyed') {
            await this.deps.store.activateDelayed(stored);
            return this.takeIfHead({ ...stored, status: InvocationStatus.Inboxed, dueAt: now }, opts);
          }
          break;
        case InvocationStatus.Inboxed:
          return this.takeIfHead(stored, opts);
        case InvocationStatus.Invoked: {
          const left = stored.leaseUntil - now;
          if (left > LEASE_END_TOLERANCE_MS || round > 0)
            return { kind: 'skipped', reason: `leased until ${new Date(stored.leaseUntil).toISOString()}`, leasedUntil: stored.leaseUntil };
          try {
            await this.sleep(Math.max(0, left) + 1, opts.handoff);
          } catch {
            return { kind: 'skipped', reason: 'handed off before the lease ended', leasedUntil: stored.leaseUntil };
          }
          continue;
        }
        case InvocationStatus.Suspended:
          if (stored.dueAt === undefined) return { kind: 'skipped', reason: 'suspended, waiting for a completion' };
          break;
      }
      // Not due yet. A timer a little early (clock skew, Scheduler) is waited for here.
      const due = stored.dueAt;
      if (due === undefined || due - now > EARLY_TIMER_TOLERANCE_MS || round > 0)
        return { kind: 'skipped', reason: `not due before ${due === undefined ? 'a completion' : new Date(due).toISOString()}` };
      try {
        await this.sleep(due - now + 1, opts.handoff);
      } catch {
        return { kind: 'skipped', reason: 'handed off before it was due' };
      }
    }
    return { kind: 'skipped', reason: 'not due' };
  }

  /** An inboxed invocation runs if it holds its key's lock; otherwise it leaves the due index and waits for its turn. */
  private async takeIfHead(stored: InvocationRecord, opts: DriveOptions): Promise<DriveOutcome> {
    if (stored.dueAt === undefined) return { kind: 'skipped', reason: 'waiting in the inbox' };
    const instance = opts.instance?.queue[0] === stored.id ? opts.instance : await this.deps.store.getInstance(stored.service, stored.key);
    if (instance.queue[0] !== stored.id) {
      if (instance.queue.includes(stored.id)) await this.deps.store.parkWaiter(stored);
      else this.deps.log.log('error', 'inboxed invocation missing from its inbox', { [INVOCATION_ID_ATTR]: stored.id });
      return { kind: 'skipped', reason: `waiting for the lock of ${stored.service}/${stored.key}` };
    }
    const taken = await this.deps.store.take(stored.id, this.leaseMs, { head: true });
    if (!taken.taken) return { kind: 'skipped', reason: 'taken by another process' };
    return this.drive(taken.rec, { ...opts, instance });
  }

  /** Drives an invocation this process has just taken (epoch bumped, lease set). */
  async drive(taken: InvocationRecord, opts: DriveOptions = {}): Promise<DriveOutcome> {
    const log = this.deps.log.child({ [INVOCATION_ID_ATTR]: taken.id, service: taken.service, method: taken.method });
    return tracer.startActiveSpan(
      `invoke ${taken.service}/${taken.method}`,
      { attributes: { [INVOCATION_ID_ATTR]: taken.id, 'rpc.service': taken.service, 'rpc.method': taken.method } },
      otelContext.active(),
      async (span) => {
        try {
          const outcome = await this.run(taken, log, opts).catch((err: unknown) => {
            if (err instanceof FencedError) {
              log.log('info', 'attempt fenced', { reason: err.message });
              return { kind: 'skipped' as const, reason: err.message };
            }
            throw err;
          });
          span.setAttribute('restless.outcome', outcome.kind);
          return outcome;
        } catch (err) {
          log.log('error', 'drive failed; the due index brings the invocation back', { error: err });
          span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
          throw err;
        } finally {
          span.end();
        }
      },
    );
  }

  private async run(taken: InvocationRecord, log: Logger, opts: DriveOptions): Promise<DriveOutcome> {
    let rec: AttemptRef = taken;
    if (rec.kind !== 'unkeyed') {
      const instance = opts.instance?.queue[0] === rec.id ? opts.instance : await this.deps.store.getInstance(rec.service, rec.key);
      if (instance.queue[0] !== rec.id) {
        // Only the head of an inbox is ever taken; anything else is damage worth a loud line.
        log.log('error', 'a keyed invocation runs without holding its key lock', { queue: instance.queue.slice(0, 3) });
        throw new FencedError(`invocation ${rec.id} does not hold the lock of ${rec.service}/${rec.key}`);
      }
      rec = { ...rec, state: instance.state, queue: instance.queue };
    }
    for (;;) {
      if (opts.handoff?.aborted) return this.handOff(rec, this.now(), log);
      try {
        const resolved = await this.resolveFor(rec);
        const step = await this.attempt(rec, resolved, log, opts);
        if (step.kind === 'continue') {
          rec = step.rec;
          continue;
        }
        return step.outcome;
      } catch (err) {
        if (err instanceof FencedError) throw err;
        if (err instanceof HandedOff) return this.handOff(rec, this.now(), log);
        if (err instanceof ItemTooLargeError) {
          // Retrying cannot help: the journal (or state) outgrew DynamoDB's 400 KB item limit.
          const result: InvocationResult = {
            kind: 'failure',
            code: Code.ResourceExhausted,
            message: 'the invocation outgrew the storage limit (400 KB for input, journal and state); it was stopped',
          };
          log.log('error', 'invocation stopped: item size limit', { error: err });
          const done = await this.deps.store.complete(rec, NO_PROGRESS, result);
          await this.finished(rec, result, done, log);
          return { kind: 'completed', result };
        }
        const failure =
          err instanceof AttemptError
            ? err
            : new AttemptError(err instanceof RestlessError ? err.code : Code.Unknown, (err as Error).message ?? String(err), { cause: err });
        const next = await this.failAttempt(rec, failure, log, opts);
        if (next.kind === 'continue') {
          rec = next.rec;
          continue;
        }
        return next.outcome;
      }
    }
  }

  /**
   * The deployment an attempt runs on: the one its journal was written against, once it has one
   * (a journal replays only against the code that wrote it); before that, the service's current one.
   */
  private async resolveFor(rec: AttemptRef): Promise<ResolvedService> {
    const pinned = rec.journal.length > 0 ? (rec.pinnedTo ?? rec.endpointId) : undefined;
    if (pinned) {
      const resolved = await this.deps.resolver.resolveDeployment(pinned, rec.service);
      if (!resolved) throw new AttemptError(Code.NotFound, `deployment ${pinned}, which this invocation started on, no longer serves ${rec.service}`);
      return resolved;
    }
    const resolved = await this.deps.resolver.resolve(rec.service);
    if (!resolved) throw new AttemptError(Code.NotFound, `service ${rec.service} is not registered`);
    return resolved;
  }

  /** One request/response exchange with the endpoint, and the write that records it. */
  private async attempt(rec: AttemptRef, resolved: ResolvedService, log: Logger, opts: DriveOptions): Promise<Step> {
    const transport = this.deps.transportFor(resolved.endpoint);
    let completions = replayCompletions(rec, this.now());
    for (const index of misdirectedAwakeables(rec)) log.log('warn', 'awakeable result held for an entry that is not an awakeable; ignored', { entry: index });
    const applied = rec.cancelRequested ? await this.applyCancel(rec, completions, log) : undefined;
    const cancel = applied?.completions ?? new Map<number, Completion>();
    completions = new Map([...completions, ...cancel]);
    const body = buildRequestBody({ ...rec, completions }, rec.state);
    const res = await this.callEndpoint(rec, transport, body, log, opts);
    if (res.status < 200 || res.status >= 300) {
      throw new AttemptError(Code.Unavailable, `endpoint answered HTTP ${res.status}: ${decoder.decode(res.body.slice(0, 300))}`);
    }
    const contentType = res.headers['content-type'] ?? '';
    if (contentType.split(';')[0]!.trim() !== 'application/restate') {
      throw new AttemptError(Code.Unavailable, `endpoint answered content-type '${contentType}', expected application/restate`);
    }
    let parsed;
    try {
      parsed = parseResponseBody(res.body, rec.journal.length + 1);
    } catch (err) {
      throw new AttemptError(Code.Internal, `protocol violation: ${(err as Error).message}`, { cause: err });
    }
    let terminal = parsed.terminal;
    if (terminal.kind === 'error') {
      // The SDK replays from the journal we hold; entries sent with the error are not kept.
      throw new AttemptError(terminal.code, terminal.message);
    }
    // More effects than one transaction holds: journal a first part; the replay brings the rest.
    const fit = entriesThatFit(parsed.entries, MAX_EFFECTS_PER_COMMIT);
    const entries = parsed.entries.slice(0, fit);
    const truncated = fit < parsed.entries.length;
    if (truncated) terminal = { kind: 'eof' };
    const plan = planEntries(rec.journal.length + 1, rec.state, entries);
    const effects = await this.storeEffects(rec, plan.effects, log);
    const progress: AttemptProgress = {
      append: plan.append,
      completions: new Map([...cancel, ...plan.completions]),
      state: plan.stateChanged ? plan.state : undefined,
      appliedCancel: applied?.seq,
      pin: resolved.endpoint.id,
      effects: effects.effects,
      awakeables: effects.own,
    };
    // The view after this step, as the next round of this attempt sees it.
    const after: AttemptRef = {
      ...rec,
      journal: [...rec.journal, ...plan.append.map((e) => ({ ...e, flags: e.flags & ~Flags.RequiresAck }))],
      completions: new Map([...rec.completions, ...progress.completions]),
      awakeables: new Map([...rec.awakeables, ...(effects.own ?? [])]),
      state: plan.state,
      cancelDone: applied?.seq ?? rec.cancelDone,
      cancelRequested: rec.cancelRequested && applied?.seq === undefined,
      pinnedTo: resolved.endpoint.id,
    };
    if (plan.result && (terminal.kind === 'end' || terminal.kind === 'eof')) {
      const done = await this.deps.store.complete(rec, progress, plan.result);
      log.log('info', 'invocation completed', { outcome: plan.result.kind, attempts: rec.attempts, journal: after.journal.length });
      await this.finished(rec, plan.result, done, log);
      return { kind: 'done', outcome: { kind: 'completed', result: plan.result } };
    }
    if (truncated) {
      const leaseUntil = this.now() + this.leaseMs;
      await this.afterCommit(await this.deps.store.continueInline(rec, progress, { leaseUntil }), log);
      return { kind: 'continue', rec: { ...after, leaseUntil } };
    }
    if (terminal.kind === 'end' && !plan.result) {
      // The output was journaled by an earlier attempt whose ending did not land: finish with it.
      const journaled = outputOf(after.journal.at(-1));
      if (journaled) {
        const done = await this.deps.store.complete(rec, progress, journaled);
        log.log('info', 'invocation completed (output from the journal)', { outcome: journaled.kind });
        await this.finished(rec, journaled, done, log);
        return { kind: 'done', outcome: { kind: 'completed', result: journaled } };
      }
    }
    if (terminal.kind === 'end' || terminal.kind === 'eof') {
      throw new AttemptError(
        Code.Internal,
        terminal.kind === 'end' ? 'the endpoint ended without an output entry' : 'the endpoint closed the stream without End, Suspension or Error',
      );
    }
    // Suspension.
    const now = this.now();
    const wait = planSuspension(after.journal, replayCompletions(after, now), after.awakeables, terminal.indexes, now);
    const leaseUntil = now + this.leaseMs;
    // A cancel that found nothing to cancel yet applies to what the handler now waits for.
    if (wait.resumable || after.cancelRequested) {
      await this.afterCommit(await this.deps.store.continueInline(rec, progress, { leaseUntil }), log);
      return { kind: 'continue', rec: { ...after, leaseUntil } };
    }
    const wake = wait.wakeAt;
    if (wake !== undefined && wake - now <= this.inlineWaitMs) {
      // A short sleep: wait here. The index keeps the attempt's lease end (at or before the lease).
      await this.afterCommit(await this.deps.store.continueInline(rec, progress, { leaseUntil }), log);
      const next = { ...after, leaseUntil };
      // Timers may fire a millisecond early: wait until the wake-up time has really passed, or the
      // endpoint would find the sleep not due and suspend on it again (a wasted round trip).
      while (this.now() < wake) {
        if (opts.handoff?.aborted) return { kind: 'done', outcome: await this.parkUntil(next, wake, log) };
        await this.sleep(wake - this.now() + 1, opts.handoff).catch(() => undefined);
      }
      // A kill (or a takeover) may have landed while it slept: look before calling the endpoint
      // again, so a killed invocation's handler does not run on. (Without a wait, the write just
      // made is that check.)
      const current = await this.deps.store.get(rec.id);
      if (current?.epoch !== rec.epoch || current.status !== InvocationStatus.Invoked) {
        throw new FencedError(`invocation ${rec.id} moved on while its attempt waited (${current?.status ?? 'gone'})`);
      }
      return { kind: 'continue', rec: next };
    }
    const suspended = await this.deps.store.suspend(rec, progress, { dueAt: wake, awaiting: wait.awaiting });
    if (suspended.kind === 'woken') {
      // What it waits for arrived while the attempt ran: record the progress and go on at once.
      await this.afterCommit(await this.deps.store.continueInline(rec, progress, { leaseUntil }), log);
      const stored = suspended.stored;
      return {
        kind: 'continue',
        rec: {
          ...after,
          leaseUntil,
          completions: new Map([...stored.completions, ...after.completions]),
          awakeables: new Map([...stored.awakeables, ...after.awakeables]),
          cancelSeq: stored.cancelSeq,
          cancelRequested: stored.cancelSeq > after.cancelDone,
        },
      };
    }
    await this.afterCommit(suspended, log);
    if (wake !== undefined)
      await this.deps.kicker
        .schedule(rec.id, wake, { epoch: rec.epoch, kind: 'sleep' })
        .catch((err: unknown) => log.log('warn', 'could not schedule the wake-up; the sweep will', { error: err }));
    log.log('info', 'invocation suspended', { waitingOn: terminal.indexes, wakeAt: wake });
    return { kind: 'done', outcome: { kind: 'suspended' } };
  }

  private async callEndpoint(rec: AttemptRef, transport: EndpointTransport, body: Uint8Array, log: Logger, opts: DriveOptions) {
    const limitMs = this.deps.config.inactivityTimeoutMs + this.deps.config.abortTimeoutMs;
    // One controller for the three ways an attempt is stopped (timeout, kill, hand-off): on the hot
    // path, AbortSignal.timeout and AbortSignal.any cost tens of microseconds each in Node.
    const stop = new AbortController();
    let timedOut = false;
    let cut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stop.abort(new Error(`no answer within ${limitMs} ms`));
    }, limitMs).unref();
    const cutter = { abort: () => ((cut = true), stop.abort(new Error('killed'))) };
    this.running.set(rec.id, cutter);
    const handoff = opts.handoff;
    const onHandoff = () => stop.abort(handoff?.reason);
    if (handoff?.aborted) onHandoff();
    else handoff?.addEventListener('abort', onHandoff, { once: true });
    const deadline = setTimeout(() => {
      this.deps.kicker
        .schedule(rec.id, rec.leaseUntil, { epoch: rec.epoch, kind: 'deadline' })
        .catch((err: unknown) => log.log('warn', 'could not arm the attempt deadline', { error: err }));
    }, this.deps.deadlineArmAfterMs ?? 5_000);
    try {
      return await transport.call({
        path: `/invoke/${rec.service}/${rec.method}`,
        headers: { 'content-type': 'application/restate', accept: 'application/restate' },
        body,
        signal: stop.signal,
      });
    } catch (err) {
      if (cut) throw new FencedError(`attempt of ${rec.id} cut: the invocation was killed`);
      if (handoff?.aborted) throw new HandedOff();
      throw new AttemptError(
        timedOut ? Code.DeadlineExceeded : Code.Unavailable,
        timedOut ? `the endpoint did not answer within ${limitMs} ms (inactivity + abort timeout)` : `endpoint call failed: ${(err as Error).message}`,
        { cause: err },
      );
    } finally {
      clearTimeout(timer);
      clearTimeout(deadline);
      handoff?.removeEventListener('abort', onHandoff);
      if (this.running.get(rec.id) === cutter) this.running.delete(rec.id);
    }
  }

  /**
   * Turns the entries' effects into what the store commits with them: calls and sends become new
   * invocations (deterministic ids: a replayed entry creates nothing new), awakeable completions
   * go to their target (our own ones into our own update). An unknown target fails the attempt.
   */
  private async storeEffects(rec: AttemptRef, planned: PlannedEffect[], log: Logger): Promise<{ effects: StoreEffect[]; own?: Map<number, Completion> }> {
    const effects: StoreEffect[] = [];
    let own: Map<number, Completion> | undefined;
    for (const p of planned) {
      if (p.kind === 'bad-awakeable') {
        log.log('warn', 'CompleteAwakeable with an id we never handed out; nothing completed', {
          entry: p.index,
          awakeableId: p.id.slice(0, 100),
          reason: p.reason,
        });
      } else if (p.kind === 'awakeable') {
        if (p.target === rec.id) {
          const entry = rec.journal[p.entryIndex - 1];
          if (entry && entry.type !== MessageType.Awakeable)
            log.log('warn', 'CompleteAwakeable names an entry that is not an awakeable; ignored', { entry: p.entryIndex });
          else if (!rec.awakeables.has(p.entryIndex)) (own ??= new Map()).set(p.entryIndex, p.completion);
        } else {
          effects.push({ kind: 'awakeable', target: p.target, index: p.entryIndex, completion: p.completion });
        }
      } else {
        const target = await this.deps.resolver.resolve(p.service);
        const method = target?.methods.get(p.method);
        if (!target || !method)
          throw new AttemptError(Code.NotFound, `entry ${p.index}: ${target ? `method ${p.service}/${p.method}` : `service ${p.service}`} not found`);
        const inv: NewInvocation = newInvocationFor(target, method, {
          id: childInvocationId(rec, p.index),
          input: p.parameter,
          caller: p.kind === 'call' ? { invocationId: rec.id, entryIndex: p.index } : undefined,
          retentionSec: this.deps.config.idempotencyDefaultRetentionSec,
        });
        effects.push({ kind: 'create', inv, ...(p.kind === 'send' && p.notBefore !== undefined ? { delayedUntil: p.notBefore } : {}) });
      }
    }
    return { effects, own };
  }

  /**
   * Graceful cancel (0.8 semantics): pending sleeps, awakeables and state reads fail with
   * CANCELLED; children behind pending calls are cancelled (their failure then completes our
   * entry), or ended at once when they have not started. Applied only when there is something to
   * cancel; otherwise it stays asked for and applies to the next thing the handler waits for.
   */
  private async applyCancel(
    rec: AttemptRef,
    completions: Map<number, Completion>,
    log: Logger,
  ): Promise<{ seq: number; completions: Map<number, Completion> } | undefined> {
    const failed = cancelCompletions(rec.journal, completions);
    const children = pendingCallIndexes(rec.journal, completions).map((index) => childInvocationId(rec, index));
    for (const child of children) {
      const flagged = await this.deps.store.requestCancel(child).catch((err: unknown) => {
        if (err instanceof RestlessError && err.code === Code.NotFound) return undefined;
        throw err;
      });
      if (flagged && (flagged.status === InvocationStatus.Inboxed || flagged.status === InvocationStatus.Delayed)) await this.deps.store.kill(child, CANCELED);
      else if (flagged) await this.deps.kicker.kick(child).catch(() => undefined);
    }
    if (failed.size === 0 && children.length === 0) return undefined;
    log.log('info', 'cancel applied', { entries: [...failed.keys()], children });
    return { seq: rec.cancelSeq, completions: failed };
  }

  /** After a commit: start what it created (the index would, later; this is the fast path). */
  private async afterCommit(outcome: CommitOutcome, log: Logger): Promise<void> {
    if (outcome.kind !== 'committed') return;
    for (const dropped of outcome.dropped) {
      if (dropped.kind === 'awakeable')
        log.log('info', 'awakeable completion dropped (unknown, finished, not an awakeable, or already completed)', {
          target: dropped.target,
          entry: dropped.index,
        });
      else log.log('info', 'invocation already existed', { child: dropped.inv.id });
    }
    for (const { inv } of outcome.created)
      log.log('info', inv.caller ? 'child invocation started' : 'one-way invocation sent', { child: inv.id, target: `${inv.service}/${inv.method}` });
    const starts = outcome.created.map(({ inv, delayedUntil }) =>
      delayedUntil !== undefined ? this.deps.kicker.schedule(inv.id, delayedUntil, { epoch: 0, kind: 'sleep' }) : this.deps.kicker.kick(inv.id),
    );
    const wakes = outcome.awakened.map((id) => this.deps.kicker.kick(id));
    for (const r of await Promise.allSettled([...starts, ...wakes])) {
      if (r.status === 'rejected') log.log('warn', 'could not kick; the sweep will', { error: r.reason });
    }
  }

  private async failAttempt(rec: AttemptRef, failure: AttemptError, log: Logger, opts: DriveOptions): Promise<Step> {
    const policy = this.deps.config.retry;
    log.log('warn', 'attempt failed', { code: failure.code, error: failure.message, attempt: rec.attempts });
    if (attemptsExhausted(policy, rec.attempts)) {
      const result: InvocationResult = {
        kind: 'failure',
        code: failure.code === Code.Ok ? Code.Unknown : failure.code,
        message: `gave up after ${rec.attempts} attempts: ${failure.message}`,
      };
      const done = await this.deps.store.complete(rec, NO_PROGRESS, result);
      log.log('error', 'invocation failed: retries exhausted', { attempts: rec.attempts });
      await this.finished(rec, result, done, log);
      return { kind: 'done', outcome: { kind: 'completed', result } };
    }
    const delay = retryDelayMs(policy, rec.attempts);
    const at = this.now() + delay;
    await this.deps.store.retryLater(rec, at, { code: failure.code, message: failure.message, at: this.now() });
    if (delay <= this.inlineWaitMs && !opts.handoff?.aborted) {
      // Short backoff: wait here and retry as a new attempt (a new epoch fences this one).
      try {
        // Until the retry time has really passed (timers may fire a little early).
        while (this.now() < at) await this.sleep(at - this.now() + 1, opts.handoff);
      } catch {
        // handed off while waiting: the retry is stored with its time
      }
      if (!opts.handoff?.aborted) {
        const retaken = await this.deps.store.take(rec.id, this.leaseMs);
        if (!retaken.taken) return { kind: 'done', outcome: { kind: 'skipped', reason: 'taken by another process during the backoff' } };
        return { kind: 'continue', rec: { ...retaken.rec, state: rec.kind !== 'unkeyed' ? rec.state : retaken.rec.state, queue: rec.queue } };
      }
    }
    // Long backoff (or a hand-off): leave it to the timer; the lease blocks takes until the retry is due.
    await this.deps.kicker
      .schedule(rec.id, at, { epoch: rec.epoch, kind: 'retry' })
      .catch((err: unknown) => log.log('warn', 'could not schedule the retry; the sweep will', { error: err }));
    return { kind: 'done', outcome: opts.handoff?.aborted ? { kind: 'handed-off' } : { kind: 'retrying', atMs: at } };
  }

  /** Stops here and lets another process carry on at once (its attempt counts for nothing). */
  private async handOff(rec: AttemptRef, at: number, log: Logger): Promise<DriveOutcome> {
    await this.deps.store.release(rec, at);
    log.log('info', 'attempt handed off', { at });
    await this.deps.kicker.kick(rec.id).catch((err: unknown) => log.log('warn', 'could not kick after the hand-off; the sweep will', { error: err }));
    return { kind: 'handed-off' };
  }

  /** Stops an inline sleep at a hand-off: runnable again at its wake time, by anyone. */
  private async parkUntil(rec: AttemptRef, wake: number, log: Logger): Promise<DriveOutcome> {
    await this.deps.store.release(rec, wake);
    await this.deps.kicker
      .schedule(rec.id, wake, { epoch: rec.epoch, kind: 'sleep' })
      .catch((err: unknown) => log.log('warn', 'could not schedule the wake-up; the sweep will', { error: err }));
    return { kind: 'handed-off' };
  }

  /** After the result is stored (with the caller's completion and the lock hand-over): wake who waits. */
  private async finished(rec: AttemptRef, result: InvocationResult, done: CommitOutcome, log: Logger): Promise<void> {
    this.deps.listener?.completed(rec.id, result);
    await this.afterCommit(done, log);
    const wake = [rec.caller?.invocationId, done.kind === 'committed' ? done.nextHolder : undefined].filter((x): x is string => x !== undefined);
    for (const id of wake)
      await this.deps.kicker.kick(id).catch((err: unknown) => log.log('warn', 'could not kick; the sweep will', { target: id, error: err }));
  }
}

/** The result an output entry holds, if `entry` is one. */
function outputOf(entry: JournalEntry | undefined): InvocationResult | undefined {
  if (entry?.type !== MessageType.OutputStream) return undefined;
  return planEntries(0, new Map(), [entry]).result;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new HandedOff());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new HandedOff());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
