/**
 * Accepting a call: write the invocation (the accept write), start it (unkeyed: at once, already
 * taken; keyed: through the key's FIFO inbox) and, for synchronous callers, wait for its result.
 */
import type { RuntimeConfig } from '../config.js';
import { Code, RestlessError } from '../errors.js';
import { newInvocationId } from '../ids.js';
import { INVOCATION_ID_ATTR, type Logger } from '../log.js';
import type { ResolvedService } from '../registry/types.js';
import { instanceKind } from './kinds.js';
import { FencedStateError, InvocationStatus, type CallerLink, type IdempotencyLink, type InvocationRecord, type InvocationResult, type InvocationStore } from '../store/invocation-store.js';
import type { CompletionListener, Driver } from './driver.js';

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

/**
 * An invocation (input, journal, unkeyed state) lives in one DynamoDB item of at most 400 KB;
 * inputs above this leave room for the journal and are refused up front with a clear error.
 */
export const MAX_INPUT_BYTES = 256 * 1024;

export function checkInputSize(bytes: number): void {
  if (bytes > MAX_INPUT_BYTES) {
    throw new RestlessError(Code.ResourceExhausted, `the request is ${bytes} bytes; at most ${MAX_INPUT_BYTES} bytes are accepted`, { httpStatus: 413 });
  }
}

export interface Accepted {
  id: string;
  /** The attempt driven inline (when asked to drive and the invocation could run at once). */
  driven?: Promise<unknown>;
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

export class Dispatcher {
  constructor(
    private readonly deps: {
      store: InvocationStore;
      driver: Driver;
      hub: CompletionHub;
      config: RuntimeConfig;
      log: Logger;
      /** Starts an invocation in the background (local: drive in process; AWS: async kick). */
      startInBackground(id: string): Promise<void>;
      now?: () => number;
    },
  ) {}

  private get leaseMs(): number {
    return this.deps.config.inactivityTimeoutMs + this.deps.config.abortTimeoutMs + 5_000;
  }

  /**
   * Accepts the call. With `drive`, an unkeyed call is driven right here (the hot path: the
   * accept write also takes the invocation, so a plain call costs two writes in all).
   */
  async accept(target: CallTarget, opts: CallOptions & { drive: boolean }): Promise<Accepted> {
    checkInputSize(target.input.byteLength);
    const id = opts.id ?? newInvocationId();
    if (opts.idempotency) {
      // One read tells a duplicate (same id) apart from a first call.
      const existing = await this.deps.store.get(id);
      if (existing) return this.duplicate(existing, opts.idempotency);
      try {
        return await this.create(id, target, opts);
      } catch (err) {
        // Lost the race against a concurrent duplicate: the failed write carries the winner.
        if (err instanceof FencedStateError) return this.duplicate(err.stored, opts.idempotency);
        throw err;
      }
    }
    return this.create(id, target, opts);
  }

  private duplicate(existing: InvocationRecord, idem: IdempotencyLink): Accepted {
    if (existing.idempotency && existing.idempotency.requestHash !== idem.requestHash) throw new IdempotencyConflictError(existing.idempotency.scope);
    return { id: existing.id, duplicateOf: existing };
  }

  private async create(id: string, target: CallTarget, opts: CallOptions & { drive: boolean }): Promise<Accepted> {
    const kind = instanceKind(target.service.meta.instance_type);
    const key = kind === 'keyed' ? target.key : kind === 'singleton' ? '' : id;
    const inv = {
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
      const rec = await this.deps.store.create(inv, { take: opts.drive, leaseMs: this.leaseMs });
      if (opts.drive) return { id, driven: this.deps.driver.drive(rec) };
      await this.deps.startInBackground(id);
      return { id };
    }
    await this.deps.store.createQueued(inv);
    const instance = await this.deps.store.getInstance(inv.service, key);
    if (instance.queue[0] === id) {
      if (opts.drive) return { id, driven: this.deps.driver.driveById(id, { instance }) };
      await this.deps.startInBackground(id);
    }
    return { id };
  }

  /** Waits for an invocation's result until `deadlineMs` (absolute). */
  async waitForResult(id: string, deadlineMs: number, signal?: AbortSignal, known?: InvocationRecord): Promise<WaitOutcome> {
    const now = this.deps.now ?? Date.now;
    let notified: InvocationResult | undefined;
    let wake: (() => void) | undefined;
    const unsubscribe = this.deps.hub.wait(id, (r) => {
      notified = r;
      wake?.();
    });
    try {
      let pollMs = 20;
      let polls = 0;
      for (;;) {
        if (notified) return { kind: 'result', result: notified };
        // The caller may have just read it (an attaching duplicate): do not read it again at once.
        const rec = polls === 0 && known ? known : await this.deps.store.get(id);
        if (!rec) throw new RestlessError(Code.NotFound, `invocation ${id} not found`);
        if (rec.status === InvocationStatus.Completed && rec.result) return { kind: 'result', result: rec.result };
        polls++;
        // Self-healing, so a waiter need not wait for the sweep: an inboxed invocation at the head
        // of its inbox whose kick got lost, or a runnable one whose attempt died (lease lapsed).
        if (rec.status === InvocationStatus.Inboxed && polls % 10 === 0) {
          const instance = await this.deps.store.getInstance(rec.service, rec.key);
          if (instance.queue[0] === id) void this.deps.driver.driveById(id).catch(() => undefined);
        } else if (rec.status === InvocationStatus.Invoked && rec.leaseUntil > 0 && rec.leaseUntil < now()) {
          void this.deps.driver.driveById(id).catch(() => undefined);
        }
        const remaining = deadlineMs - now();
        if (remaining <= 0 || signal?.aborted) return { kind: 'timeout' };
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(pollMs, remaining));
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = undefined;
        pollMs = Math.min(pollMs * 2, 1000);
      }
    } finally {
      unsubscribe();
    }
  }
}
