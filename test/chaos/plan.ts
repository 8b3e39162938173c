/**
 * Everything a seed does, derived from the seed alone: the workload (what is called when, on
 * which runner), the fault intensities, the process faults and the kills. Replaying a seed replays
 * this plan; the interleaving with real processes and timers is of course not replayed exactly.
 */
import type { FaultSpec } from '../../lib/local/faults.js';
import { hashSeed, seededRandom, type SeededRandom } from '../../lib/local/seeded-random.js';
import type { EndpointFaults } from './workload-endpoint.js';

export type OpKind =
  /** Sync call: a short sleep (inline in the driver, ≤ 2 s). */
  | 'sleep'
  /** Ingress/Invoke: a sleep long enough to suspend (a kill target). */
  | 'sleepLong'
  /** Sync call: side effects, sometimes with durable sleeps between them. */
  | 'effects'
  /** Ingress/Invoke: side effects with short (inline) sleeps between them, so an attempt is running when a kill comes. */
  | 'effectsInvoke'
  /** Sync call or Ingress/Invoke: A → B → C. */
  | 'chain'
  | 'chainInvoke'
  /** Sync call: a one-way or delayed send that increments a counter key. */
  | 'send'
  /** Keyed counter increments, sync or through Ingress/Invoke. */
  | 'counter'
  | 'counterInvoke'
  /** 3–6 increments of one key at once: a queue in the key's inbox. */
  | 'counterBurst'
  /** One client appending seq 0..n-1 to a FIFO key, each call after the previous answered. */
  | 'fifo'
  /** An awakeable resolved by another invocation. */
  | 'awaitService'
  /** Ingress/Invoke: an awakeable the harness resolves through the ingress (a kill target). */
  | 'awaitIngress'
  /** The same idempotency key sent 2–4 times at once, then once more later. */
  | 'idempotent'
  | 'idempotentInvoke';

export interface PlannedOp {
  tag: string;
  kind: OpKind;
  atMs: number;
  /** Which live runner takes it (modulo how many there are then). */
  runnerPick: number;
  /** Sync calls only: the client goes away after this long. */
  disconnectAfterMs?: number;
  ms?: number;
  n?: number;
  sleepMs?: number;
  delayMs?: number;
  key?: string;
  copies?: number;
  appends?: number;
}

export interface PlannedAction {
  atMs: number;
  kind: 'kill' | 'cancel';
  /** Which accepted kill target (modulo how many there are then). */
  pick: number;
  adminPick: number;
}

export interface ProcessEvent {
  atMs: number;
  kind: 'kill-runner' | 'freeze-runner' | 'kill-endpoint';
  pick: number;
  forMs: number;
}

export interface SeedPlan {
  seed: number;
  /** One table per seed: nothing carries over between seeds. */
  table: string;
  runners: number;
  durationMs: number;
  ops: PlannedOp[];
  actions: PlannedAction[];
  processEvents: ProcessEvent[];
  /** How hard this seed hits (0.5 gentle … 2 harsh). */
  intensity: number;
  endpointFaults: EndpointFaults;
  counterKeys: string[];
  fifoKeys: string[];
}

export interface PlanOptions {
  runners: number;
  durationMs: number;
  /** Operations started per second of the fault phase. */
  opsPerSecond: number;
  /** Keeps table names apart (harnesses, lanes, repeated runs of a seed). */
  runId: string;
}

const KINDS: [OpKind, number][] = [
  ['sleep', 8],
  ['sleepLong', 6],
  ['effects', 10],
  ['effectsInvoke', 5],
  ['chain', 6],
  ['chainInvoke', 4],
  ['send', 6],
  ['counter', 12],
  ['counterInvoke', 5],
  ['counterBurst', 4],
  ['fifo', 4],
  ['awaitService', 5],
  ['awaitIngress', 5],
  ['idempotent', 4],
  ['idempotentInvoke', 3],
];

function weighted(rng: SeededRandom): OpKind {
  const total = KINDS.reduce((s, [, w]) => s + w, 0);
  let r = rng.next() * total;
  for (const [kind, w] of KINDS) {
    r -= w;
    if (r < 0) return kind;
  }
  return KINDS[0]![0];
}

export function planSeed(seed: number, opts: PlanOptions): SeedPlan {
  const rng = seededRandom(seed).fork('plan');
  const intensity = rng.pick([0.5, 1, 1, 2]);
  const counterKeys = Array.from({ length: rng.int(1, 3) }, (_, i) => `c${i}`);
  const fifoKeys = Array.from({ length: rng.int(1, 2) }, (_, i) => `f${i}`);
  const count = Math.max(4, Math.round((opts.durationMs / 1000) * opts.opsPerSecond));
  const ops: PlannedOp[] = [];
  for (let i = 0; i < count; i++) {
    const kind = weighted(rng);
    // What arms a durable timer starts early, so the timer comes due while faults are still on.
    const timerBound = kind === 'sleepLong' || kind === 'effects' ? 0.3 : 0.85;
    const op: PlannedOp = { tag: `o${i}`, kind, atMs: rng.int(0, Math.floor(opts.durationMs * timerBound)), runnerPick: rng.int(0, 1000) };
    const sync =
      !kind.endsWith('Invoke') && kind !== 'sleepLong' && kind !== 'awaitIngress' && kind !== 'fifo' && kind !== 'idempotent' && kind !== 'counterBurst';
    if (sync && rng.chance(0.08)) op.disconnectAfterMs = rng.int(20, 600);
    switch (kind) {
      case 'sleep':
        op.ms = rng.int(50, 1500);
        break;
      case 'sleepLong':
        // Beyond the 2 s a runner waits inline: the invocation suspends and a timer wakes it.
        op.ms = rng.int(2100, 2800);
        break;
      case 'effects':
        op.n = rng.int(1, 3);
        op.sleepMs = rng.pick([0, 0, 200, 2200]);
        break;
      case 'effectsInvoke':
        op.n = rng.int(3, 6);
        op.sleepMs = rng.int(200, 1200);
        break;
      case 'send':
        op.key = rng.pick(counterKeys);
        op.delayMs = rng.pick([0, 0, 300, 1500]);
        break;
      case 'counter':
      case 'counterInvoke':
        op.key = rng.pick(counterKeys);
        break;
      case 'counterBurst':
        op.key = rng.pick(counterKeys);
        op.copies = rng.int(3, 6);
        break;
      case 'fifo':
        op.key = rng.pick(fifoKeys);
        op.appends = rng.int(2, 5);
        break;
      case 'idempotent':
      case 'idempotentInvoke':
        op.copies = rng.int(2, 4);
        break;
      default:
        break;
    }
    ops.push(op);
  }
  ops.sort((a, b) => a.atMs - b.atMs);

  const actions: PlannedAction[] = Array.from({ length: rng.int(1, 3) }, () => ({
    atMs: rng.int(Math.floor(opts.durationMs * 0.3), opts.durationMs),
    kind: rng.chance(0.6) ? ('kill' as const) : ('cancel' as const),
    pick: rng.int(0, 1000),
    adminPick: rng.int(0, 1000),
  }));

  // Process faults early in the phase, so what they strand has time to be recovered.
  const processEvents: ProcessEvent[] = [];
  const rounds = Math.max(1, Math.round(opts.durationMs / 4000));
  for (let r = 0; r < rounds; r++) {
    const early = () => rng.int(Math.floor(opts.durationMs * 0.1), Math.floor(opts.durationMs * 0.6));
    if (rng.chance(0.5 * intensity)) processEvents.push({ atMs: early(), kind: 'kill-runner', pick: rng.int(0, 1000), forMs: 0 });
    if (rng.chance(0.5 * intensity)) processEvents.push({ atMs: early(), kind: 'freeze-runner', pick: rng.int(0, 1000), forMs: rng.int(200, 1500) });
    if (rng.chance(0.25 * intensity)) processEvents.push({ atMs: early(), kind: 'kill-endpoint', pick: 0, forMs: 0 });
  }
  processEvents.sort((a, b) => a.atMs - b.atMs);

  return {
    seed,
    table: `chaos-${opts.runId}-s${seed}`,
    runners: opts.runners,
    durationMs: opts.durationMs,
    ops,
    actions,
    processEvents,
    intensity,
    endpointFaults: { seed: hashSeed(seed, 'endpoint'), crashBefore: 0.02 * intensity, crashAfter: 0.02 * intensity, hang: 0.01 * intensity },
    counterKeys,
    fifoKeys,
  };
}

/**
 * The DynamoDB and timer faults of one runner process (each incarnation gets its own stream).
 * The harness switches them off with SIGUSR2; the deadline is a safety net.
 */
export function runnerFaults(plan: SeedPlan, incarnation: number, untilMs?: number): FaultSpec {
  const k = plan.intensity;
  return {
    seed: hashSeed(plan.seed, `runner-${incarnation}`),
    ...(untilMs !== undefined ? { untilMs } : { forMs: plan.durationMs + 60_000 }),
    dynamo: { failBefore: 0.01 * k, lostAnswer: 0.01 * k, conflict: 0.05 * k, throttle: 0.005 * k, latency: 0.1, latencyMaxMs: 30 },
    // Timers are few per seed (sleeps that suspend, delayed sends): they get higher odds than kicks.
    timers: { drop: 0.1 * k, double: 0.1 * k, delay: 0.1 * k, delayMaxMs: 800, reorder: 0.1 * k },
    kicks: { drop: 0.04 * k, double: 0.04 * k, delay: 0.04 * k, delayMaxMs: 800, reorder: 0.04 * k },
  };
}
