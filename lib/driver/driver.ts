/**
 * drive(): moves one invocation forward. The ingress, the timer Lambda and the local runner all
 * call it. Per attempt (request/response mode):
 *
 *   take (epoch+1, lease) ─▶ load state ─▶ POST Start+journal ─▶ read new entries + terminal
 *        ▲                                                          │
 *        └──── resumable at once (completions produced here) ◀──────┤ Suspension
 *                                                                   ├─ End    → store result (1 write)
 *                                                                   └─ Error  → backoff, retry
 *
 * Every write is conditional on the attempt's epoch, so a stale attempt changes nothing.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { context as otelContext, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BackgroundInvokeEntryMessageSchema,
  CompleteAwakeableEntryMessageSchema,
  InvokeEntryMessageSchema,
  ClearStateEntryMessageSchema,
  GetStateEntryMessageSchema,
  OutputStreamEntryMessageSchema,
  SetStateEntryMessageSchema,
  SleepEntryMessageSchema,
} from '../../gen/dev/restate/service/protocol_pb.js';
import type { RuntimeConfig } from '../config.js';
import type { EndpointTransport } from '../endpoint/types.js';
import { Code, FencedError, RestlessError } from '../errors.js';
import { INVOCATION_ID_ATTR, type Logger } from '../log.js';
import type { EndpointRecord, ServiceResolver } from '../registry/types.js';
import { InvocationStatus, type Completion, type InvocationRecord, type InvocationResult, type InvocationStore, type JournalEntry, type ServiceInstance, type StateMap } from '../store/invocation-store.js';
import { attemptsExhausted, retryDelayMs } from './backoff.js';
import { buildRequestBody, isCompletable, parseResponseBody } from './wire.js';
import { childInvocationId, enqueueInvocation, type EnqueueSpec } from './enqueue.js';
import { decodeAwakeableId } from '../protocol/awakeable-id.js';
import { invocationIdFromBytes } from '../ids.js';
import { Flags, MessageType } from '../protocol/framing.js';
import { stateKeysResult } from '../protocol/messages.js';

const FLAG_COMPLETED = Flags.Completed;
const FLAG_REQUIRES_ACK = Flags.RequiresAck;

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const tracer = trace.getTracer('restless');

/** Something that can wake an invocation later: in process locally, a timer Lambda on AWS. */
export interface Kicker {
  /** Drive `id` again as soon as possible. */
  kick(id: string): Promise<void>;
  /** Drive `id` again at `atMs` (retry backoff, sleeps). Idempotent per (id, epoch, kind). */
  schedule(id: string, atMs: number, reason: { epoch: number; kind: 'retry' | 'sleep' | 'deadline' }): Promise<void>;
}

/** Lets waiting callers (the ingress) hear about a finished invocation without polling. */
export interface CompletionListener {
  completed(id: string, result: InvocationResult): void;
}

export interface DriverDeps {
  store: InvocationStore;
  resolver: ServiceResolver;
  transportFor(endpoint: EndpointRecord): EndpointTransport;
  config: RuntimeConfig;
  kicker: Kicker;
  log: Logger;
  listener?: CompletionListener;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Waits at most this long inside the current process (sleep timers, retry backoff). */
  inlineWaitMs?: number;
  /**
   * An attempt still waiting for its endpoint after this long gets a durable deadline timer at
   * its lease end, so a Lambda that dies mid-attempt is recovered then (not only by the sweep).
   * Short attempts, the common case, never pay for a schedule.
   */
  deadlineArmAfterMs?: number;
}

export type DriveOutcome =
  | { kind: 'completed'; result: InvocationResult }
  | { kind: 'suspended' }
  | { kind: 'retrying'; atMs: number }
  /** Someone else owns the invocation (a newer attempt, a lease that has not lapsed), or it is done. */
  | { kind: 'skipped'; reason: string };

/** A failure of one attempt; always retried (the 0.x semantics: only Output failures are terminal). */
class AttemptError extends Error {
  constructor(
    readonly code: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class Driver {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly inlineWaitMs: number;
  /** Attempts running in this process, so a kill can cut them at once (elsewhere, fencing stops them). */
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly deps: DriverDeps) {
    this.now = deps.now ?? Date.now;
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.inlineWaitMs = deps.inlineWaitMs ?? 2_000;
  }

  private get leaseMs(): number {
    return this.deps.config.inactivityTimeoutMs + this.deps.config.abortTimeoutMs + 5_000;
  }

  /** Cuts the attempt of `id` running in this process, if any (kill). */
  abortAttempt(id: string): void {
    this.running.get(id)?.abort();
  }

  /** Takes the invocation (if runnable and not leased) and drives it. */
  async driveById(id: string, known?: { instance?: ServiceInstance }): Promise<DriveOutcome> {
    let rec: InvocationRecord;
    try {
      rec = await this.deps.store.take(id, this.leaseMs, { fromStatuses: [InvocationStatus.Invoked, InvocationStatus.Suspended, InvocationStatus.Inboxed] });
    } catch (err) {
      if (err instanceof FencedError || (err instanceof RestlessError && err.code === Code.NotFound)) return { kind: 'skipped', reason: err.message };
      throw err;
    }
    return this.drive(rec, known?.instance);
  }

  /**
   * Drives an invocation this process has just taken (epoch bumped, lease set). `instance` is the
   * key's lock and state when the caller has just read them with this invocation at the head: only
   * the holder changes the state, so they are still current (saves a read).
   */
  async drive(taken: InvocationRecord, instance?: ServiceInstance): Promise<DriveOutcome> {
    const log = this.deps.log.child({ [INVOCATION_ID_ATTR]: taken.id, service: taken.service, method: taken.method });
    return tracer.startActiveSpan(`invoke ${taken.service}/${taken.method}`, { attributes: { [INVOCATION_ID_ATTR]: taken.id, 'rpc.service': taken.service, 'rpc.method': taken.method } }, otelContext.active(), async (span) => {
      try {
        const outcome = await this.run(taken, log, instance).catch((err: unknown) => {
          if (err instanceof FencedError) return { kind: 'skipped' as const, reason: err.message };
          throw err;
        });
        span.setAttribute('restless.outcome', outcome.kind);
        return outcome;
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  private async run(taken: InvocationRecord, log: Logger, known?: ServiceInstance): Promise<DriveOutcome> {
    let rec = taken;
    if (rec.kind !== 'unkeyed') {
      let instance = known?.queue[0] === rec.id ? known : await this.deps.store.getInstance(rec.service, rec.key);
      if (instance.queue[0] !== rec.id) {
        // Not our turn: back to the inbox; the holder passes the lock on when it ends.
        await this.deps.store.writeAttempt(rec, { append: [], completions: new Map() }, { status: InvocationStatus.Inboxed, leaseUntil: 0 });
        // The holder may have finished (and kicked us, in vain) while we held the lease: look again.
        instance = await this.deps.store.getInstance(rec.service, rec.key);
        if (instance.queue[0] !== rec.id) return { kind: 'skipped', reason: `waiting for the lock of ${rec.service}/${rec.key}` };
        rec = await this.deps.store.take(rec.id, this.leaseMs, { fromStatuses: [InvocationStatus.Inboxed] });
      }
      rec = { ...rec, state: instance.state };
    }
    for (;;) {
      const resolved = await this.deps.resolver.resolve(rec.service);
      try {
        if (!resolved) throw new AttemptError(Code.NotFound, `service ${rec.service} is not registered`);
        const transport = this.deps.transportFor(resolved.endpoint);
        const step = await this.attempt(rec, transport, log);
        if (step.kind === 'continue') {
          rec = step.rec;
          continue;
        }
        return step.outcome;
      } catch (err) {
        if (err instanceof FencedError) {
          log.log('info', 'attempt fenced', { reason: err.message });
          return { kind: 'skipped', reason: err.message };
        }
        if (isItemTooLarge(err)) {
          // Retrying cannot help: the journal (or state) outgrew DynamoDB's 400 KB item limit.
          const result: InvocationResult = { kind: 'failure', code: Code.ResourceExhausted, message: 'the invocation outgrew the storage limit (400 KB for input, journal and state); it was stopped' };
          await this.deps.store.writeAttempt(rec, { append: [], completions: new Map() }, { status: InvocationStatus.Completed, result, retentionSec: rec.retentionSec, releaseLock: rec.kind !== 'unkeyed' });
          log.log('error', 'invocation stopped: item size limit', { error: err });
          await this.finished(rec, result, log);
          return { kind: 'completed', result };
        }
        const failure = err instanceof AttemptError ? err : new AttemptError(Code.Unknown, (err as Error).message ?? String(err), { cause: err });
        const next = await this.failAttempt(rec, failure, log);
        if (next.kind === 'continue') {
          rec = next.rec;
          continue;
        }
        return next.outcome;
      }
    }
  }

  /** One request/response exchange with the endpoint, and the write that records it. */
  private async attempt(rec: InvocationRecord, transport: EndpointTransport, log: Logger): Promise<{ kind: 'continue'; rec: InvocationRecord } | { kind: 'done'; outcome: DriveOutcome }> {
    // Sleeps that are already due are completed before the replay, so the endpoint sees them done.
    rec = this.completeDueSleeps(rec);
    if (rec.cancelRequested) rec = await this.cancelPending(rec, log);
    const body = buildRequestBody(rec, rec.state);
    const timeout = AbortSignal.timeout(this.deps.config.inactivityTimeoutMs + this.deps.config.abortTimeoutMs);
    const cut = new AbortController();
    this.running.set(rec.id, cut);
    const deadline = setTimeout(() => {
      this.deps.kicker.schedule(rec.id, rec.leaseUntil, { epoch: rec.epoch, kind: 'deadline' }).catch((err: unknown) => log.log('warn', 'could not arm the attempt deadline', { error: err }));
    }, this.deps.deadlineArmAfterMs ?? 5_000);
    let res;
    try {
      res = await transport.call({
        path: `/invoke/${rec.service}/${rec.method}`,
        headers: { 'content-type': 'application/restate', accept: 'application/restate' },
        body,
        signal: AbortSignal.any([timeout, cut.signal]),
      });
    } catch (err) {
      if (cut.signal.aborted) throw new FencedError(`attempt of ${rec.id} cut: the invocation was killed`);
      throw new AttemptError(timeout.aborted ? Code.DeadlineExceeded : Code.Unavailable, timeout.aborted ? `the endpoint did not answer within ${this.deps.config.inactivityTimeoutMs + this.deps.config.abortTimeoutMs} ms (inactivity + abort timeout)` : `endpoint call failed: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(deadline);
      if (this.running.get(rec.id) === cut) this.running.delete(rec.id);
    }
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
    const terminal = parsed.terminal;
    if (terminal.kind === 'error') {
      // The SDK replays from the journal we hold; entries sent with the error are not kept.
      throw new AttemptError(terminal.code, terminal.message);
    }
    // Fallible entries (unknown target, bad awakeable id) fail the attempt before anything is written.
    const applied = await this.applyEntries(rec, parsed.entries);
    // Side effects on other invocations go first: they are idempotent (deterministic child ids,
    // first completion wins), so a retry after a lost write repeats them harmlessly.
    await this.runEffects(applied.effects, log);
    if (applied.result && (terminal.kind === 'end' || terminal.kind === 'eof')) {
      await this.deps.store.writeAttempt(rec, { append: applied.append, completions: applied.completions, state: applied.stateChanged ? applied.state : undefined }, { status: InvocationStatus.Completed, result: applied.result, retentionSec: rec.retentionSec, releaseLock: rec.kind !== 'unkeyed' });
      log.log('info', 'invocation completed', { outcome: applied.result.kind, attempts: rec.attempts, journal: rec.journal.length + applied.append.length + 1 });
      await this.finished(rec, applied.result, log);
      return { kind: 'done', outcome: { kind: 'completed', result: applied.result } };
    }
    if (terminal.kind === 'end' || terminal.kind === 'eof') {
      throw new AttemptError(Code.Internal, terminal.kind === 'end' ? 'the endpoint ended without an output entry' : 'the endpoint closed the stream without End, Suspension or Error');
    }
    // Suspension.
    const next: InvocationRecord = {
      ...rec,
      journal: [...rec.journal, ...applied.append.map((e) => ({ ...e, flags: e.flags & ~FLAG_REQUIRES_ACK }))],
      completions: new Map([...rec.completions, ...applied.completions]),
      state: applied.state,
    };
    const resumable = terminal.indexes.some((i) => this.isResumable(next, i));
    const wake = resumable ? this.now() : this.nextWake(next, terminal.indexes);
    const waitInline = wake !== undefined && wake - this.now() <= this.inlineWaitMs;
    const extendedLease = this.now() + this.leaseMs;
    const written = await this.deps.store.writeAttempt(
      rec,
      { append: applied.append, completions: applied.completions, state: applied.stateChanged ? applied.state : undefined },
      // The index keeps the attempt's first lease end while it continues inline: rewriting it
      // would delete and re-insert the index entry (2 WCU) on every continuation. The sweep then
      // may look at a still-running attempt, and its take is refused by the real lease.
      waitInline ? { status: InvocationStatus.Invoked, leaseUntil: extendedLease, keepIndex: true } : { status: InvocationStatus.Suspended, leaseUntil: 0 },
    );
    const arrived = (written.completions && terminal.indexes.some((i) => written.completions!.has(i))) || (written.cancelRequested && !rec.cancelRequested);
    if (!waitInline && arrived) {
      // A completion landed while this attempt ran (its kick found us leased): resume now.
      const retaken = await this.deps.store.take(rec.id, this.leaseMs, { steal: true });
      return { kind: 'continue', rec: rec.kind !== 'unkeyed' ? { ...retaken, state: next.state } : retaken };
    }
    if (waitInline) {
      // Timers may fire a millisecond early: wait until the wake-up time has really passed, or
      // the endpoint would find the sleep not due and suspend on it again (a wasted round trip).
      while (this.now() < wake) await this.sleep(wake - this.now() + 1);
      return { kind: 'continue', rec: { ...next, leaseUntil: extendedLease } };
    }
    if (wake !== undefined) await this.deps.kicker.schedule(rec.id, wake, { epoch: rec.epoch, kind: 'sleep' });
    log.log('info', 'invocation suspended', { waitingOn: terminal.indexes, wakeAt: wake });
    return { kind: 'done', outcome: { kind: 'suspended' } };
  }

  /** Applies new entries to the in-memory view: state changes, completions produced here, output. */
  private async applyEntries(rec: InvocationRecord, entries: JournalEntry[]) {
    const effects: Effect[] = [];
    const state: StateMap = new Map(rec.state);
    let stateChanged = false;
    const completions = new Map<number, Completion>();
    let result: InvocationResult | undefined;
    const firstIndex = rec.journal.length + 1;
    const append: JournalEntry[] = [];
    entries.forEach((entry, i) => {
      const index = firstIndex + i;
      const completed = (entry.flags & FLAG_COMPLETED) !== 0;
      switch (entry.type) {
        case MessageType.GetState: {
          if (!completed) {
            const key = decoder.decode(fromBinary(GetStateEntryMessageSchema, entry.body).key);
            const value = state.get(key);
            completions.set(index, value === undefined ? { kind: 'empty' } : { kind: 'value', value });
          }
          break;
        }
        case MessageType.SetState: {
          const m = fromBinary(SetStateEntryMessageSchema, entry.body);
          state.set(decoder.decode(m.key), m.value);
          stateChanged = true;
          break;
        }
        case MessageType.ClearState: {
          state.delete(decoder.decode(fromBinary(ClearStateEntryMessageSchema, entry.body).key));
          stateChanged = true;
          break;
        }
        case MessageType.ClearAllState:
          state.clear();
          stateChanged = true;
          break;
        case MessageType.GetStateKeys:
          if (!completed) {
            completions.set(index, stateKeysResult([...state.keys()].map((k) => encoder.encode(k))));
          }
          break;
        case MessageType.OutputStream: {
          const m = fromBinary(OutputStreamEntryMessageSchema, entry.body);
          result = m.result.case === 'failure' ? { kind: 'failure', code: m.result.value.code, message: m.result.value.message } : { kind: 'value', value: m.result.case === 'value' ? m.result.value : new Uint8Array(0) };
          break;
        }
        default:
          break;
      }
      append.push(entry);
    });
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const index = firstIndex + i;
      if (entry.type === MessageType.Invoke) {
        const m = fromBinary(InvokeEntryMessageSchema, entry.body);
        effects.push({ kind: 'call', spec: await this.childSpec(rec, index, m.serviceName, m.methodName, m.parameter, { invocationId: rec.id, entryIndex: index }) });
      } else if (entry.type === MessageType.BackgroundInvoke) {
        const m = fromBinary(BackgroundInvokeEntryMessageSchema, entry.body);
        const at = Number(m.invokeTime);
        effects.push({ kind: 'send', spec: await this.childSpec(rec, index, m.serviceName, m.methodName, m.parameter, undefined), notBefore: at > 0 ? at : undefined });
      } else if (entry.type === MessageType.CompleteAwakeable) {
        const m = fromBinary(CompleteAwakeableEntryMessageSchema, entry.body);
        let target;
        try {
          const parts = decodeAwakeableId(m.id);
          target = { invocationId: invocationIdFromBytes(parts.invocationIdBytes), entryIndex: parts.entryIndex };
        } catch (err) {
          throw new AttemptError(Code.InvalidArgument, `entry ${index}: bad awakeable id '${m.id}': ${(err as Error).message}`);
        }
        const completion: Completion = m.result.case === 'failure' ? { kind: 'failure', code: m.result.value.code, message: m.result.value.message } : { kind: 'value', value: m.result.case === 'value' ? m.result.value : new Uint8Array(0) };
        effects.push({ kind: 'complete', ...target, completion });
      }
    }
    return { state, stateChanged, completions, result, append, effects };
  }

  /** Resolves a call's target; an unknown service or method fails the attempt (it is retried). */
  private async childSpec(parent: InvocationRecord, index: number, serviceName: string, methodName: string, parameter: Uint8Array, caller: EnqueueSpec['caller']): Promise<EnqueueSpec> {
    const target = await this.deps.resolver.resolve(serviceName);
    const method = target?.methods.get(methodName);
    if (!target || !method) throw new AttemptError(Code.NotFound, `entry ${index}: ${target ? `method ${serviceName}/${methodName}` : `service ${serviceName}`} not found`);
    return {
      id: childInvocationId(parent.id, index),
      service: serviceName,
      method: methodName,
      input: parameter,
      endpointId: target.endpoint.id,
      caller,
      retentionSec: this.deps.config.idempotencyDefaultRetentionSec,
      target,
      resolvedMethod: method,
    };
  }

  private async runEffects(effects: Effect[], log: Logger): Promise<void> {
    for (const effect of effects) {
      if (effect.kind === 'complete') {
        const stored = await this.deps.store.addCompletion(effect.invocationId, effect.entryIndex, effect.completion);
        if (stored) await this.deps.kicker.kick(effect.invocationId);
        else log.log('info', 'awakeable completion dropped (already completed or unknown)', { target: effect.invocationId, entry: effect.entryIndex });
        continue;
      }
      const { created } = await enqueueInvocation(this.deps.store, this.deps.kicker, effect.spec, { notBefore: effect.kind === 'send' ? effect.notBefore : undefined, now: this.now() });
      if (created) log.log('info', effect.kind === 'call' ? 'child invocation started' : 'one-way invocation sent', { child: effect.spec.id, target: `${effect.spec.service}/${effect.spec.method}` });
    }
  }

  private isResumable(rec: InvocationRecord, index: number): boolean {
    if (index === 0) return true;
    const entry = rec.journal[index - 1];
    if (!entry) return false;
    if (!isCompletable(entry.type)) return true; // e.g. a side effect that asked for an ack: stored = acked
    return (entry.flags & FLAG_COMPLETED) !== 0 || rec.completions.has(index) || this.sleepDue(entry, this.now());
  }

  private sleepDue(entry: JournalEntry, now: number): boolean {
    return entry.type === MessageType.Sleep && Number(fromBinary(SleepEntryMessageSchema, entry.body).wakeUpTime) <= now;
  }

  /** Earliest wake-up among the sleeps the suspension waits on. */
  private nextWake(rec: InvocationRecord, indexes: number[]): number | undefined {
    let wake: number | undefined;
    for (const i of indexes) {
      const entry = rec.journal[i - 1];
      if (entry?.type !== MessageType.Sleep || rec.completions.has(i)) continue;
      const at = Number(fromBinary(SleepEntryMessageSchema, entry.body).wakeUpTime);
      wake = wake === undefined ? at : Math.min(wake, at);
    }
    return wake;
  }

  /**
   * Graceful cancel (0.8 semantics): every entry still waiting (sleep, awakeable, call) fails with
   * CANCELLED, so the handler sees a TerminalError at its await and can compensate. Children
   * behind pending calls are cancelled by the admin action; their failure completes our entry.
   */
  private async cancelPending(rec: InvocationRecord, log: Logger): Promise<InvocationRecord> {
    const completions = new Map(rec.completions);
    for (const [i, entry] of rec.journal.entries()) {
      const index = i + 1;
      const waiting = (entry.flags & FLAG_COMPLETED) === 0 && !completions.has(index);
      if (!waiting || (entry.type !== MessageType.Sleep && entry.type !== MessageType.Awakeable && entry.type !== MessageType.GetState)) continue;
      const canceled: Completion = { kind: 'failure', code: Code.Cancelled, message: 'canceled' };
      await this.deps.store.addCompletion(rec.id, index, canceled);
      completions.set(index, canceled);
      log.log('info', 'pending entry canceled', { entry: index });
    }
    await this.deps.store.clearCancel(rec.id);
    return { ...rec, completions, cancelRequested: false };
  }

  private completeDueSleeps(rec: InvocationRecord): InvocationRecord {
    const now = this.now();
    let completions: Map<number, Completion> | undefined;
    rec.journal.forEach((entry, i) => {
      const index = i + 1;
      if ((entry.flags & FLAG_COMPLETED) === 0 && !rec.completions.has(index) && this.sleepDue(entry, now)) {
        completions ??= new Map(rec.completions);
        completions.set(index, { kind: 'empty' });
      }
    });
    return completions ? { ...rec, completions } : rec;
  }

  private async failAttempt(rec: InvocationRecord, failure: AttemptError, log: Logger): Promise<{ kind: 'continue'; rec: InvocationRecord } | { kind: 'done'; outcome: DriveOutcome }> {
    const policy = this.deps.config.retry;
    log.log('warn', 'attempt failed', { code: failure.code, error: failure.message, attempt: rec.attempts });
    if (attemptsExhausted(policy, rec.attempts)) {
      const result: InvocationResult = { kind: 'failure', code: failure.code === Code.Ok ? Code.Unknown : failure.code, message: `gave up after ${rec.attempts} attempts: ${failure.message}` };
      await this.deps.store.writeAttempt(rec, { append: [], completions: new Map() }, { status: InvocationStatus.Completed, result, retentionSec: rec.retentionSec, releaseLock: rec.kind !== 'unkeyed' });
      log.log('error', 'invocation failed: retries exhausted', { attempts: rec.attempts });
      await this.finished(rec, result, log);
      return { kind: 'done', outcome: { kind: 'completed', result } };
    }
    const delay = retryDelayMs(policy, rec.attempts);
    const at = this.now() + delay;
    const info = { code: failure.code, message: failure.message, at: this.now() };
    if (delay <= this.inlineWaitMs) {
      // Short backoff: wait here and retry as a new attempt (a new epoch fences this one).
      await this.deps.store.writeAttempt(rec, { append: [], completions: new Map() }, { status: InvocationStatus.Invoked, leaseUntil: at, failure: info });
      await this.sleep(delay);
      const retaken = await this.deps.store.take(rec.id, this.leaseMs, { steal: true });
      const withState = rec.kind !== 'unkeyed' ? { ...retaken, state: rec.state } : retaken;
      return { kind: 'continue', rec: withState };
    }
    // Long backoff: leave it to the timer; the lease blocks sweeps until the retry is due.
    await this.deps.store.writeAttempt(rec, { append: [], completions: new Map() }, { status: InvocationStatus.Invoked, leaseUntil: at, failure: info });
    await this.deps.kicker.schedule(rec.id, at, { epoch: rec.epoch, kind: 'retry' });
    return { kind: 'done', outcome: { kind: 'retrying', atMs: at } };
  }

  /** After the result is stored: tell waiters and pass the key's lock on. */
  private async finished(rec: InvocationRecord, result: InvocationResult, log: Logger): Promise<void> {
    this.deps.listener?.completed(rec.id, result);
    if (rec.caller) {
      // The parent's Invoke entry is completed with our result (terminal failures included).
      const stored = await this.deps.store.addCompletion(rec.caller.invocationId, rec.caller.entryIndex, result);
      if (stored) await this.deps.kicker.kick(rec.caller.invocationId);
    }
    if (rec.kind === 'unkeyed') return;
    try {
      const instance = await this.deps.store.getInstance(rec.service, rec.key);
      const next = instance.queue[0];
      if (next) await this.deps.kicker.kick(next);
    } catch (err) {
      log.log('error', 'could not pass the key lock on', { error: err });
    }
  }
}

export function isItemTooLarge(err: unknown): boolean {
  return (err as { name?: string }).name === 'ValidationException' && /item size/i.test((err as Error).message ?? '');
}

type Effect =
  | { kind: 'call'; spec: EnqueueSpec }
  | { kind: 'send'; spec: EnqueueSpec; notBefore?: number }
  | { kind: 'complete'; invocationId: string; entryIndex: number; completion: Completion };
