/** What the admin API needs from the invocation side (implemented by the driver's store). */

export type KillMode = 'kill' | 'cancel';

export interface InvocationAdmin {
  /** The invocation's status as JSON; undefined when no such invocation exists (→ 404). */
  status(id: string): Promise<unknown>;
  /**
   * Kills (0.5/0.8 semantics, the default) or cancels (0.8: compensate) an invocation. The answer
   * is sent as is: `body` undefined means an empty body.
   */
  kill(id: string, mode: KillMode): Promise<{ status: number; body?: unknown }>;
}
