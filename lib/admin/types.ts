/** What the admin API needs from the invocation side (implemented by lib/admin/invocations.ts). */

/** `GET /invocations` query, parsed. */
export interface ListQuery {
  status?: string[];
  service?: string;
  method?: string;
  key?: string;
  limit?: number;
  cursor?: string;
}

export type KillMode = 'kill' | 'cancel';

export interface InvocationAdmin {
  /** The invocation's status as JSON; undefined when no such invocation exists (→ 404). */
  status(id: string): Promise<unknown>;
  /**
   * Kills (0.5/0.8 semantics, the default) or cancels (0.8: compensate) an invocation. The answer
   * is sent as is: `body` undefined means an empty body.
   */
  kill(id: string, mode: KillMode): Promise<{ status: number; body?: unknown }>;
  /** A page of invocations, newest first (`GET /invocations`); 501 without it. */
  list?(query: ListQuery): Promise<unknown>;
  /** A keyed service instance: state keys and sizes, lock holder, inbox (`GET /services/{name}/keys/{key}`); 501 without it. */
  instance?(service: string, key: string): Promise<unknown>;
}
