/**
 * Fault injection for the local runner, for the chaos suite. Off unless RESTLESS_FAULTS holds a
 * spec (JSON). Installed after the runtime is built and the runner is up:
 *
 * - DynamoDB (an interceptor on the one document client every store shares): a write that fails before it is
 *   sent, a write that lands but whose answer is lost, TransactionConflict, throttling, latency;
 * - timers and kicks (the local timer service's `fire`, where both are delivered; each with its
 *   own odds): drop, double, delay, reorder.
 *
 * Every decision comes from one seeded PRNG, and every injected fault is logged as one line
 * `{"msg":"fault injected","fault":"<kind>",…}` so a harness can count them. Faults stop at the
 * spec's deadline or on SIGUSR2, so the system can quiesce.
 */
import { ProvisionedThroughputExceededException, ThrottlingException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DocumentClient } from '../store/dynamo/document-client.js';
import { createLogger, type Logger } from '../log.js';
import type { TimerEvent } from '../timers/timer-event.js';
import { seededRandom, type SeededRandom } from './seeded-random.js';

export const FAULTS_ENV = 'RESTLESS_FAULTS';

/** Probabilities are per operation (per DynamoDB request, per timer or kick delivery), 0..1. */
export interface FaultSpec {
  seed: number;
  /** Faults stop this many ms after they are installed. */
  forMs?: number;
  /** Faults stop at this wall-clock time (ms since the epoch). */
  untilMs?: number;
  dynamo: {
    /** A write fails before it is sent (nothing changed). */
    failBefore: number;
    /** A write lands, then its answer is lost (the caller sees an error). */
    lostAnswer: number;
    /** A transaction is refused with a TransactionConflict reason, without being sent. */
    conflict: number;
    /** Any request is refused with a throttling error, without being sent. */
    throttle: number;
    /** Any request waits up to `latencyMaxMs` before it is sent. */
    latency: number;
    latencyMaxMs: number;
  };
  /** Durable timers coming due (sleeps, retries, deadlines, delayed sends). */
  timers: DeliveryFaults;
  /** Kicks ("drive this now"): after an accept, a completion, a lock hand-over, a sweep. */
  kicks: DeliveryFaults;
}

export interface DeliveryFaults {
  drop: number;
  double: number;
  delay: number;
  delayMaxMs: number;
  /** Held back and delivered after the next delivery (or after 200 ms). */
  reorder: number;
}

export type FaultKind =
  'ddb.fail-before' | 'ddb.lost-answer' | 'ddb.conflict' | 'ddb.throttle' | 'ddb.latency' | `${'kick' | 'timer'}.${'drop' | 'double' | 'delay' | 'reorder'}`;

const PROBABILITIES = {
  dynamo: ['failBefore', 'lostAnswer', 'conflict', 'throttle', 'latency'],
  deliveries: ['drop', 'double', 'delay', 'reorder'],
} as const;

/** Parses and checks a spec; unknown fields and out-of-range numbers are errors (a typo must not mean "no faults"). */
export function parseFaultSpec(raw: string): FaultSpec {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new Error(`${FAULTS_ENV} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const obj = record(json, FAULTS_ENV);
  allowOnly(obj, ['seed', 'forMs', 'untilMs', 'dynamo', 'timers', 'kicks'], FAULTS_ENV);
  const dynamo = record(obj.dynamo ?? {}, `${FAULTS_ENV}.dynamo`);
  allowOnly(dynamo, [...PROBABILITIES.dynamo, 'latencyMaxMs'], `${FAULTS_ENV}.dynamo`);
  const p = (o: Record<string, unknown>, k: string, where: string) => numberIn(o[k] ?? 0, 0, 1, `${where}.${k}`);
  const ms = (v: unknown, fallback: number, where: string) => numberIn(v ?? fallback, 0, Number.MAX_SAFE_INTEGER, where);
  const deliveries = (name: 'timers' | 'kicks'): DeliveryFaults => {
    const o = record(obj[name] ?? {}, `${FAULTS_ENV}.${name}`);
    allowOnly(o, [...PROBABILITIES.deliveries, 'delayMaxMs'], `${FAULTS_ENV}.${name}`);
    return {
      drop: p(o, 'drop', name),
      double: p(o, 'double', name),
      delay: p(o, 'delay', name),
      reorder: p(o, 'reorder', name),
      delayMaxMs: ms(o.delayMaxMs, 500, `${name}.delayMaxMs`),
    };
  };
  return {
    seed: numberIn(obj.seed, 0, 2 ** 32 - 1, `${FAULTS_ENV}.seed`),
    forMs: obj.forMs === undefined ? undefined : ms(obj.forMs, 0, `${FAULTS_ENV}.forMs`),
    untilMs: obj.untilMs === undefined ? undefined : ms(obj.untilMs, 0, `${FAULTS_ENV}.untilMs`),
    dynamo: {
      failBefore: p(dynamo, 'failBefore', 'dynamo'),
      lostAnswer: p(dynamo, 'lostAnswer', 'dynamo'),
      conflict: p(dynamo, 'conflict', 'dynamo'),
      throttle: p(dynamo, 'throttle', 'dynamo'),
      latency: p(dynamo, 'latency', 'dynamo'),
      latencyMaxMs: ms(dynamo.latencyMaxMs, 50, 'dynamo.latencyMaxMs'),
    },
    timers: deliveries('timers'),
    kicks: deliveries('kicks'),
  };
}

function record(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where} must be an object`);
  return v as Record<string, unknown>;
}

function allowOnly(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  const unknown = Object.keys(obj).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw new Error(`${where}: unknown field(s) ${unknown.join(', ')}; allowed: ${allowed.join(', ')}`);
}

function numberIn(v: unknown, min: number, max: number, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw new Error(`${where} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return v;
}

/** What faults need of the runtime: its DynamoDB client and, locally, its timer service. */
export interface FaultTargets {
  tables: { doc: DocumentClient };
  localTimers?: { fire: (event: TimerEvent) => Promise<unknown> };
}

export interface InstalledFaults {
  /** Injected so far, by kind. */
  counts(): Record<string, number>;
  active(): boolean;
  /** Switches every fault off (idempotent); held timer deliveries are released. */
  stop(reason: string): void;
}

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'TransactWriteItemsCommand', 'BatchWriteItemCommand']);

export function installFaults(
  targets: FaultTargets,
  spec: FaultSpec,
  log: Logger = createLogger({ level: 'debug', fields: { component: 'faults' } }),
): InstalledFaults {
  const rng = seededRandom(spec.seed);
  const counts: Record<string, number> = {};
  let active = true;
  const injected = (fault: FaultKind, fields: Record<string, unknown> = {}) => {
    counts[fault] = (counts[fault] ?? 0) + 1;
    log.log('warn', 'fault injected', { fault, ...fields });
  };

  // Above the client's own retries: each injected failure reaches the runtime, as a retry-exhausted one would.
  targets.tables.doc.use((call, next) => {
    if (!active) return next();
    const op = call.operation;
    return dynamoFault(rng, spec.dynamo, { op, ...describeRequest(call.input) }, call.input as { TransactItems?: unknown[] }, injected, next);
  });

  const timerFaults = targets.localTimers ? wrapTimerDelivery(targets.localTimers, rng, spec, injected, () => active, log) : undefined;

  const stop = (reason: string) => {
    if (!active) return;
    active = false;
    clearTimeout(deadline);
    timerFaults?.release();
    log.log('warn', 'faults off', { reason, counts });
  };
  // Stays installed after the stop: a second SIGUSR2 must not fall back to the default (exit).
  process.on('SIGUSR2', () => stop('SIGUSR2'));
  const remaining = Math.min(spec.forMs ?? Number.POSITIVE_INFINITY, spec.untilMs !== undefined ? spec.untilMs - Date.now() : Number.POSITIVE_INFINITY);
  const deadline = Number.isFinite(remaining) ? setTimeout(() => stop('deadline'), Math.max(0, remaining)) : undefined;
  deadline?.unref();
  log.log('warn', 'faults on', { seed: spec.seed, forMs: spec.forMs, untilMs: spec.untilMs, dynamo: spec.dynamo, timers: spec.timers, kicks: spec.kicks });
  return { counts: () => ({ ...counts }), active: () => active, stop };
}

type Injected = (fault: FaultKind, fields?: Record<string, unknown>) => void;

/** Which items a request touches and how, for the fault log (keys and expressions only, never values). */
function describeRequest(input: unknown): { items?: string[]; update?: string } {
  const pkOf = (req: Record<string, unknown> | undefined): string | undefined => {
    const pk = ((req?.Key ?? req?.Item) as Record<string, unknown> | undefined)?.pk;
    return typeof pk === 'string' ? pk : typeof (pk as { S?: unknown } | undefined)?.S === 'string' ? (pk as { S: string }).S : undefined;
  };
  const req = input as Record<string, unknown>;
  if (Array.isArray(req.TransactItems)) {
    const parts = (req.TransactItems as Record<string, Record<string, unknown>>[]).map((t) => Object.values(t)[0]);
    return {
      items: parts.flatMap((p) => pkOf(p) ?? []),
      update: parts
        .map((p) => String(p?.UpdateExpression ?? 'put'))
        .join(' | ')
        .slice(0, 300),
    };
  }
  const pk = pkOf(req);
  return { ...(pk ? { items: [pk] } : {}), ...(typeof req.UpdateExpression === 'string' ? { update: req.UpdateExpression.slice(0, 300) } : {}) };
}

async function dynamoFault<T>(
  rng: SeededRandom,
  p: FaultSpec['dynamo'],
  where: { op: string },
  input: { TransactItems?: unknown[] },
  injected: Injected,
  send: () => Promise<T>,
): Promise<T> {
  const { op } = where;
  const $metadata = {};
  if (rng.chance(p.latency)) {
    const ms = rng.int(1, Math.max(1, p.latencyMaxMs));
    injected('ddb.latency', { op, ms });
    await new Promise((r) => setTimeout(r, ms));
  }
  if (rng.chance(p.throttle)) {
    injected('ddb.throttle', { op });
    const message = 'injected fault: throttled';
    throw rng.chance(0.5) ? new ProvisionedThroughputExceededException({ message, $metadata }) : new ThrottlingException({ message, $metadata });
  }
  if (!WRITES.has(op)) return send();
  if (op === 'TransactWriteItemsCommand' && rng.chance(p.conflict)) {
    // DynamoDB names the item that conflicted; the others get 'None'.
    const items = input.TransactItems?.length ?? 1;
    const conflicted = rng.int(0, items - 1);
    injected('ddb.conflict', { ...where, conflicted });
    throw new TransactionCanceledException({
      message: 'injected fault: Transaction cancelled, please refer cancellation reasons for specific reasons',
      $metadata,
      CancellationReasons: Array.from({ length: items }, (_, i) =>
        i === conflicted ? { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' } : { Code: 'None' },
      ),
    });
  }
  if (rng.chance(p.failBefore)) {
    injected('ddb.fail-before', where);
    throw Object.assign(new Error('injected fault: connection reset before the write was sent'), {
      name: 'InjectedNetworkError',
      code: 'ECONNRESET',
      $metadata,
    });
  }
  if (rng.chance(p.lostAnswer)) {
    await send();
    injected('ddb.lost-answer', where);
    throw Object.assign(new Error('injected fault: the write landed but its answer was lost'), { name: 'TimeoutError', code: 'ETIMEDOUT', $metadata });
  }
  return send();
}

/** Replaces `fire` with a faulty delivery; the sweep (not a timer) is never touched. */
function wrapTimerDelivery(
  timers: NonNullable<FaultTargets['localTimers']>,
  rng: SeededRandom,
  spec: Pick<FaultSpec, 'timers' | 'kicks'>,
  injected: Injected,
  isActive: () => boolean,
  log: Logger,
) {
  const deliver = timers.fire;
  const held: TimerEvent[] = [];
  let flushTimer: NodeJS.Timeout | undefined;
  const background = (event: TimerEvent, ms: number) => {
    setTimeout(() => void deliver(event).catch((err: unknown) => log.log('warn', 'delayed timer delivery failed', { error: err, event })), ms);
  };
  const release = () => {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    for (const event of held.splice(0)) background(event, 0);
  };
  timers.fire = async (event) => {
    if (!isActive() || event.kind === 'sweep') return deliver(event);
    const source = event.kind === 'kick' ? 'kick' : 'timer';
    const p = event.kind === 'kick' ? spec.kicks : spec.timers;
    const fields = { invocationId: event.invocationId, ...(event.kind === 'timer' ? { reason: event.reason, epoch: event.epoch } : {}) };
    if (rng.chance(p.drop)) {
      injected(`${source}.drop`, fields);
      return undefined;
    }
    if (rng.chance(p.delay)) {
      const ms = rng.int(1, Math.max(1, p.delayMaxMs));
      injected(`${source}.delay`, { ...fields, ms });
      background(event, ms);
      return undefined;
    }
    if (rng.chance(p.reorder)) {
      injected(`${source}.reorder`, fields);
      held.push(event);
      flushTimer ??= setTimeout(release, 200);
      return undefined;
    }
    if (rng.chance(p.double)) {
      injected(`${source}.double`, fields);
      background(event, rng.int(0, 50));
    }
    try {
      return await deliver(event);
    } finally {
      // Whatever was held back goes after this later delivery: that is the reordering.
      if (held.length > 0) release();
    }
  };
  return { release };
}
