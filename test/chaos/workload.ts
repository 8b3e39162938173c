/**
 * Runs the planned operations against the runners' ingresses and keeps the ledger: every call,
 * how it ended, and every invocation id an ingress handed out (those are "accepted").
 */
import type { RunnerHandle } from './cluster.js';
import { request, type CallOutcome } from './http-client.js';
import type { OpKind, PlannedAction, PlannedOp } from './plan.js';

export interface LedgerEntry {
  /** The tag in the request; idempotent duplicates share it. */
  tag: string;
  kind: OpKind;
  call: 'sync' | 'invoke';
  target: string;
  runner: string;
  sentAt: number;
  outcome?: CallOutcome;
  /** The invocation id an ingress answered (x-restate-id, or Invoke's `id`). */
  id?: string;
  idempotencyKey?: string;
  key?: string;
  client?: string;
  seq?: number;
}

export interface KillEntry {
  mode: 'kill' | 'cancel';
  id: string;
  tag: string;
  admin: string;
  sentAt: number;
  outcome: CallOutcome;
}

const KILL_TARGETS = new Set<OpKind>(['sleepLong', 'awaitIngress', 'chainInvoke', 'effectsInvoke']);

export class Ledger {
  readonly entries: LedgerEntry[] = [];
  readonly kills: KillEntry[] = [];

  acceptedIds(): Set<string> {
    return new Set(this.entries.flatMap((e) => (e.id ? [e.id] : [])));
  }

  /** Accepted invocations that may still be running: what kills and cancels aim at. */
  killTargets(): LedgerEntry[] {
    const hit = new Set(this.kills.map((k) => k.id));
    return this.entries.filter((e) => e.id && !hit.has(e.id) && KILL_TARGETS.has(e.kind));
  }
}

export interface WorkloadContext {
  run: string;
  ledger: Ledger;
  /** A live runner that is not frozen, chosen by `pick`. */
  runner(pick: number): RunnerHandle;
  /** Client-side bound of a sync call (the ingress deadline plus slack for a frozen runner). */
  syncTimeoutMs: number;
}

const SERVICES: Record<string, { keyed: boolean }> = { chaosWork: { keyed: false }, chaosCounter: { keyed: true }, chaosFifo: { keyed: true } };

function routerBody(service: string, key: string | undefined, req: unknown): Record<string, unknown> {
  return SERVICES[service]?.keyed ? { key, request: req } : { request: req };
}

async function syncCall(
  ctx: WorkloadContext,
  entry: Omit<LedgerEntry, 'runner' | 'sentAt' | 'call'>,
  req: unknown,
  pick: number,
  opts: { disconnectAfterMs?: number } = {},
): Promise<LedgerEntry> {
  const runner = ctx.runner(pick);
  const [service] = entry.target.split('/');
  const full: LedgerEntry = { ...entry, call: 'sync', runner: runner.name, sentAt: Date.now() };
  ctx.ledger.entries.push(full);
  const headers = entry.idempotencyKey ? { 'idempotency-key': entry.idempotencyKey } : undefined;
  full.outcome = await request('POST', `${runner.ingressUrl}/${entry.target}`, routerBody(service!, entry.key, req), {
    headers,
    timeoutMs: ctx.syncTimeoutMs,
    disconnectAfterMs: opts.disconnectAfterMs,
  });
  if (full.outcome.kind === 'answer' && full.outcome.id) full.id = full.outcome.id;
  return full;
}

async function invokeCall(ctx: WorkloadContext, entry: Omit<LedgerEntry, 'runner' | 'sentAt' | 'call'>, req: unknown, pick: number): Promise<LedgerEntry> {
  const runner = ctx.runner(pick);
  const [service, method] = entry.target.split('/');
  const full: LedgerEntry = { ...entry, call: 'invoke', runner: runner.name, sentAt: Date.now() };
  ctx.ledger.entries.push(full);
  const headers = entry.idempotencyKey ? { 'idempotency-key': entry.idempotencyKey } : undefined;
  full.outcome = await request(
    'POST',
    `${runner.ingressUrl}/dev.restate.Ingress/Invoke`,
    { service, method, argument: routerBody(service!, entry.key, req) },
    { headers, timeoutMs: ctx.syncTimeoutMs },
  );
  const id = full.outcome.kind === 'answer' && full.outcome.status === 200 ? (full.outcome.json as { id?: unknown } | undefined)?.id : undefined;
  if (typeof id === 'string') full.id = id;
  else if (full.outcome.kind === 'answer' && full.outcome.id) full.id = full.outcome.id;
  return full;
}

/** Runs one planned operation to its end (all of its calls answered or given up). */
export async function runOp(ctx: WorkloadContext, op: PlannedOp): Promise<void> {
  const base = { run: ctx.run, tag: op.tag };
  const pick = op.runnerPick;
  const entry = (kind: OpKind, target: string, extra: Partial<LedgerEntry> = {}) => ({ tag: op.tag, kind, target, ...extra });
  switch (op.kind) {
    case 'sleep':
      await syncCall(ctx, entry('sleep', 'chaosWork/sleep'), { ...base, ms: op.ms }, pick, op);
      return;
    case 'sleepLong':
      await invokeCall(ctx, entry('sleepLong', 'chaosWork/sleep'), { ...base, ms: op.ms }, pick);
      return;
    case 'effects':
      await syncCall(ctx, entry('effects', 'chaosWork/effects'), { ...base, n: op.n, sleepMs: op.sleepMs }, pick, op);
      return;
    case 'effectsInvoke':
      await invokeCall(ctx, entry('effectsInvoke', 'chaosWork/effects'), { ...base, n: op.n, sleepMs: op.sleepMs }, pick);
      return;
    case 'chain':
      await syncCall(ctx, entry('chain', 'chaosWork/chain'), { ...base, depth: 2 }, pick, op);
      return;
    case 'chainInvoke':
      await invokeCall(ctx, entry('chainInvoke', 'chaosWork/chain'), { ...base, depth: 2 }, pick);
      return;
    case 'send':
      await syncCall(ctx, entry('send', 'chaosWork/send'), { ...base, key: op.key, delayMs: op.delayMs }, pick, op);
      return;
    case 'counter':
      await syncCall(ctx, entry('counter', 'chaosCounter/add', { key: op.key }), base, pick, op);
      return;
    case 'counterInvoke':
      await invokeCall(ctx, entry('counterInvoke', 'chaosCounter/add', { key: op.key }), base, pick);
      return;
    case 'counterBurst': {
      const copies = Array.from({ length: op.copies ?? 3 }, (_, i) => {
        const tag = `${op.tag}.${i}`;
        return syncCall(ctx, { tag, kind: 'counterBurst', target: 'chaosCounter/add', key: op.key }, { run: ctx.run, tag }, pick + i);
      });
      await Promise.all(copies);
      return;
    }
    case 'awaitService':
      await syncCall(ctx, entry('awaitService', 'chaosWork/awaitService'), base, pick, op);
      return;
    case 'awaitIngress':
      await invokeCall(ctx, entry('awaitIngress', 'chaosWork/awaitIngress'), base, pick);
      return;
    case 'fifo':
      // One client: each append is sent after the previous one ended.
      for (let seq = 0; seq < (op.appends ?? 1); seq++) {
        await syncCall(
          ctx,
          entry('fifo', 'chaosFifo/append', { key: op.key, client: op.tag, seq, tag: `${op.tag}.${seq}` }),
          { run: ctx.run, tag: `${op.tag}.${seq}`, client: op.tag, seq },
          pick + seq,
        );
      }
      return;
    case 'idempotent': {
      const idempotencyKey = `${op.tag}-key`;
      const req = { ...base, n: 1 };
      const copies = Array.from({ length: op.copies ?? 2 }, (_, i) =>
        syncCall(ctx, entry('idempotent', 'chaosWork/effects', { idempotencyKey }), req, pick + i),
      );
      await Promise.all(copies);
      // And once more after the first ones ended: the kept answer, not a second run.
      await syncCall(ctx, entry('idempotent', 'chaosWork/effects', { idempotencyKey }), req, pick + 7);
      return;
    }
    case 'idempotentInvoke': {
      const idempotencyKey = `${op.tag}-key`;
      const copies = Array.from({ length: op.copies ?? 2 }, (_, i) =>
        invokeCall(ctx, entry('idempotentInvoke', 'chaosCounter/add', { idempotencyKey, key: 'idem' }), base, pick + i),
      );
      await Promise.all(copies);
      await invokeCall(ctx, entry('idempotentInvoke', 'chaosCounter/add', { idempotencyKey, key: 'idem' }), base, pick + 7);
      return;
    }
  }
}

/** A kill or a graceful cancel through a runner's admin API, aimed at an accepted invocation. */
export async function runAction(ctx: WorkloadContext, action: PlannedAction): Promise<void> {
  const targets = ctx.ledger.killTargets();
  if (targets.length === 0) return;
  const target = targets[action.pick % targets.length]!;
  const admin = ctx.runner(action.adminPick);
  const sentAt = Date.now();
  const kill: KillEntry = {
    mode: action.kind,
    id: target.id!,
    tag: target.tag,
    admin: admin.name,
    sentAt,
    outcome: { kind: 'failed', reason: 'network', message: 'not sent yet', at: sentAt },
  };
  ctx.ledger.kills.push(kill);
  kill.outcome = await request(
    'DELETE',
    `${admin.adminUrl}/invocations/${encodeURIComponent(kill.id)}${action.kind === 'cancel' ? '?mode=cancel' : ''}`,
    undefined,
    { timeoutMs: ctx.syncTimeoutMs },
  );
}
