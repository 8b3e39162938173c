/**
 * What the driver needs from the world around it, as small interfaces: the local runner, the
 * Lambdas and the tests plug in their own.
 */
import type { InvocationResult } from '../store/invocation-item.js';

/** Something that can wake an invocation later: in process locally, a timer Lambda on AWS. Only ever a shortcut: the due index is the truth. */
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
