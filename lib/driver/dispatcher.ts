/**
 * Accepting a call: write the invocation (the accept write), start it (unkeyed: at once, already
 * taken; keyed: through the key's FIFO inbox) and, for synchronous callers, wait for its result.
 */
import type { RuntimeConfig } from '../config.js';
import { Code, InvalidArgumentError, RestlessError, STOPPED } from '../errors.js';
import { newInvocationId } from '../ids.js';
import { INVOCATION_ID_ATTR, type Logger } from '../log.js';
import type { ResolvedService } from '../registry/types.js';
import { instanceKind } from './instance-kind.js';
import {
  InvocationExistsError,
  InvocationStatus,
  type CallerLink,
  type IdempotencyLink,
  type InvocationRecord,
  type InvocationResult,
  type InvocationStore,
  type NewInvocation,
} from '../store/invocation-store.js';
import type { CompletionListener, DriveOutcome, Driver } from './driver.js';
import { MAX_KEY_BYTES } from './enqueue.js';
import { checkInputSize } from './limits.js';

export { checkInputSize, MAX_INPUT_BYTES } from './limits.js';

export interface CallTarget {
  service: ResolvedService;
  method: string;
  /** Keyed services: the key; ignored otherwise. */
  key: string;
  input: Uint8Array;
}

export interface CallOptions {
  id?: string;
  caller?: CallerLink;
  idempotency?: IdempotencyLink;
  retentionSec?: number;
}

/** In-process notifications of finished invocations; waiters fall back to polling the store. */
export class CompletionHub implements CompletionListener {
  private readonly waiters = new Map<string, Set<(r: InvocationResult) => void>>();

  completed(id: string, result: InvocationResult): void {
    const set = this.waiters.get(id);
    if (!set) return;
    this.waiters.delete(id);
    for (const w of set) w(result);
  }

  wait(id: string, cb: (r: InvocationResult) => void): () => void {
    let set = this.waiters.get(id);
    if (!set) this.waiters.set(id, (set = new Set()));
    set.add(cb);
    return () => {
      set.delete(cb);
      if (set.size === 0) this.waiters.delete(id);
    };
  }
}

export interface Accepted {
  id: string;
  /** The attempt driven inline (when asked to drive and the invocation could run at once). */
  driven?: Promise<DriveOutcome>;
  /** Set when the call repeated an idempotency key: the invocation that already exists. */
  duplicateOf?: InvocationRecord;
}

/** A reused idempotency key with another request body; the scope names the key. */
export class IdempotencyConflictError extends RestlessError {
  constructor(scope: string) {
    const key = (JSON.parse(scope) as unknown[])[3];
    super(Code.FailedPrecondition, `the idempotency key '${String(key)}' was already used for a different request; use a new key`, { httpStatus: 422 });
  }
}

export type WaitOutcome = { kind: 'result'; result: InvocationResult } | { kind: 'timeout' };

export interface WaitOptions {
  signal?: AbortSignal;
  /** The record the caller just read (saves the first poll). */
  lastRead?: InvocationRecord;
  /** Fires when the waiter must stop (its deadline); attempts it revived are handed off. */
  handoff?: AbortSignal;
}

/** A waiter revives an invocation whose due time passed this long ago (the sweep would, later). */
const REVIVE_AFTER_MS = 1_000;

/** A waiter on a parked invocation looks at least this often (an early resume by another process). */
const PARKED_POLL_MS = 5_000;
/** And first this long after its wake-up (the resumed attempt's usual run), then doubling again. */
const PARKED_GRACE_MS = 40;

export class Dispatcher {
  constructor(
    private readonly deps: {
      store: InvocationStore;
      driver: Driver;
      hub: CompletionHub;
      config: RuntimeConfig;
      log: Logger;
      /** Starts an invocation in the background (local: drive in process; AWS: a kick). */
      startInBackground(id: string): Promise<void>;
      now?: () => number;
    },
  ) {}

  private get now(): () => number {
    return this.deps.now ?? Date.now;
  }

  /**
   * Accepts the call. With `drive`, an unkeyed call is driven right here (the hot path: the
   * accept write also takes the invocation, so a plain call costs two writes in all).
   */
  async accept(target: CallTarget, opts: CallOptions & { drive: boolean; handoff?: AbortSignal }): Promise<Accepted> {
    checkInputSize(target.input.byteLength);
    const id = opts.id ?? newInvocationId();
    if (opts.idempotency) {
      // One read tells a duplicate (same id) apart from a first call: a duplicate then costs a
      // read (1 RCU), not a refused conditional write (billed in WCU, by the stored item's size).
      const existing = await this.deps.store.get(id);
      if (existing) return this.duplicate(existing, opts.idempotency);
      try {
        return await this.create(id, target, opts);
      } catch (err) {
        // Lost the race against a concurrent duplicate: the failed write carries the winner.
        if (err instanceof InvocationExistsError) return this.duplicate(err.stored, opts.idempotency);
        throw err;
      }
    }
    return this.create(id, target, opts);
  }

  private duplicate(existing: InvocationRecord, idem: IdempotencyLink): Accepted {
    if (existing.idempotency && existing.idempotency.requestHash !== idem.requestHash) throw new IdempotencyConflictError(existing.idempotency.scope);
    return { id: existing.id, duplicateOf: existing };
  }

  private async create(id: string, target: CallTarget, opts: CallOptions & { drive: boolean; handoff?: AbortSignal }): Promise<Accepted> {
    const kind = instanceKind(target.service.meta.instance_type);
    const key = kind === 'keyed' ? target.key : kind === 'singleton' ? '' : id;
    if (kind === 'keyed' && Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
      throw new InvalidArgumentError(`the key is ${Buffer.byteLength(key, 'utf8')} bytes; keys of at most ${MAX_KEY_BYTES} bytes are accepted`);
    }
    const inv: NewInvocation = {
      id,
      service: target.service.meta.name,
      method: target.method,
      key,
      kind,
      input: target.input,
      endpointId: target.service.endpoint.id,
      caller: opts.caller,
      idempotency: opts.idempotency,
      retentionSec: opts.retentionSec ?? this.deps.config.idempotencyDefaultRetentionSec,
    };
    const log = this.deps.log.child({ [INVOCATION_ID_ATTR]: id });
    log.log('info', 'invocation accepted', { service: inv.service, method: inv.method, kind });
    if (kind === 'unkeyed') {
      const rec = await this.deps.store.accept(inv, opts.drive ? { kind: 'take', leaseMs: this.deps.driver.leaseMs } : { kind: 'runnable' });
      if (opts.drive) return { id, driven: this.deps.driver.drive(rec, { handoff: opts.handoff }) };
      await this.deps.startInBackground(id).catch(() => undefined);
      return { id };
    }
    await this.deps.store.accept(inv, { kind: 'runnable' });
    if (!opts.drive) {
      await this.deps.startInBackground(id).catch(() => undefined);
      return { id };
    }
    const instance = await this.deps.store.getInstance(inv.service, key);
    if (instance.queue[0] === id) return { id, driven: this.deps.driver.driveById(id, { instance, handoff: opts.handoff }) };
    return { id };
  }

  /**
   * What a waiter may drive to get its answer sooner: its invocation when overdue, or, while it
   * waits in a key's inbox, the key's holder when that is overdue (every few polls: two reads).
   */
  private async overdue(rec: InvocationRecord, polls: number): Promise<string | undefined> {
    const late = (r: InvocationRecord | undefined) => r?.dueAt !== undefined && r.dueAt + REVIVE_AFTER_MS < this.now();
    if (late(rec)) return rec.id;
    if (rec.status !== InvocationStatus.Inboxed || polls % 4 !== 0) return undefined;
    const head = (await this.deps.store.getInstance(rec.service, rec.key)).queue[0];
    if (!head || head === rec.id) return undefined;
    return late(await this.deps.store.get(head)) ? head : undefined;
  }

  /**
   * Waits for an invocation's result until `deadlineMs` (absolute), polling the table (the only
   * truth across processes; an in-process notification only ends a wait sooner). An invocation
   * that is overdue (its attempt died, its kick got lost) is driven from here, so a waiter never
   * waits for the sweep.
   */
  async waitForResult(id: string, deadlineMs: number, opts: WaitOptions = {}): Promise<WaitOutcome> {
    let notified: InvocationResult | undefined;
    let wake: (() => void) | undefined;
    const unsubscribe = this.deps.hub.wait(id, (r) => {
      notified = r;
      wake?.();
    });
    const revived: Promise<unknown>[] = [];
    // Attempts revived here stop when the waiter does (a Lambda freezes after answering).
    const stop = new AbortController();
    const handoff = opts.handoff ? AbortSignal.any([opts.handoff, stop.signal]) : stop.signal;
    try {
      let pollMs = 20;
      let polls = 0;
      for (;;) {
        if (notified) return { kind: 'result', result: notified };
        // The caller may have just read it (an attaching duplicate): do not read it again at once.
        const rec = polls === 0 && opts.lastRead ? opts.lastRead : await this.deps.store.get(id);
        if (!rec) throw new RestlessError(Code.NotFound, `invocation ${id} not found`);
        if (rec.status === InvocationStatus.Completed && rec.result) return { kind: 'result', result: rec.result };
        polls++;
        if (!opts.handoff?.aborted && revived.length < 3) {
          const overdue = await this.overdue(rec, polls);
          if (overdue)
            revived.push(
              this.deps.driver
                .driveById(overdue, { handoff })
                .catch((err: unknown) => this.deps.log.log('warn', 'revive failed', { [INVOCATION_ID_ATTR]: overdue, error: err })),
            );
        }
        const remaining = deadlineMs - this.now();
        if (remaining <= 0 || opts.signal?.aborted || opts.handoff?.aborted) return { kind: 'timeout' };
        // Parked until a known wake-up (a sleep): nothing to learn before it but an early resume by
        // another process, so look now and then (every 5 s) until then, and often right after it.
        const parkedFor = rec.status === InvocationStatus.Suspended && rec.dueAt !== undefined ? rec.dueAt - this.now() : 0;
        const delay = parkedFor > pollMs ? Math.min(parkedFor + PARKED_GRACE_MS, PARKED_POLL_MS) : pollMs;
        if (parkedFor > pollMs) pollMs = PARKED_GRACE_MS;
        // A gone caller or a hand-off ends the wait at once, not at the next look (up to 5 s away).
        const stopSignals = [opts.signal, opts.handoff].filter((sig): sig is AbortSignal => sig !== undefined);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(delay, remaining));
          wake = () => {
            clearTimeout(t);
            resolve();
          };
          for (const sig of stopSignals) sig.addEventListener('abort', wake, { once: true });
        });
        for (const sig of stopSignals) if (wake) sig.removeEventListener('abort', wake);
        wake = undefined;
        pollMs = Math.min(pollMs * 2, 1000);
      }
    } finally {
      unsubscribe();
      stop.abort(STOPPED);
      if (revived.length > 0) await Promise.race([Promise.allSettled(revived), new Promise((r) => setTimeout(r, 2_000).unref?.())]);
    }
  }
}
