/**
 * Regression (found in review of the durable core): kill and cancel follow the call tree from one read of the parent's journal, then end (or
 * flag) the parent with a write conditioned on its epoch and status only. An attempt of the parent
 * that commits an Invoke entry (and, in the same transaction, its child) between that read and the
 * kill's write is not fenced (a commit does not bump the epoch), and the kill's write does not
 * notice the journal moved: the child escapes. After a kill it runs on, an orphan, doing its work
 * for a tree that was killed; after a cancel it is not cancelled, and the parent (whose pending
 * calls are "completed by their children, which the admin action cancels") waits for it to finish
 * on its own.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { InvocationAdminService } from '../../lib/admin/invocations.js';
import { childInvocationId } from '../../lib/driver/enqueue.js';
import { newInvocationId } from '../../lib/ids.js';
import { silentLogger } from '../../lib/log.js';
import { MessageType } from '../../lib/protocol/framing.js';
import { InvocationStatus, InvocationStore, type InvocationRecord, type NewInvocation } from '../../lib/store/invocation-store.js';
import { freshTable } from '../support/ddb.js';

const enc = new TextEncoder();
let store: InvocationStore;
let admin: InvocationAdminService;

function inv(id: string, over: Partial<NewInvocation> = {}): NewInvocation {
  return { id, service: 'svc', method: 'm', key: id, kind: 'unkeyed', input: enc.encode('in'), endpointId: 'ep', retentionSec: 60, ...over };
}

beforeEach(async () => {
  store = new InvocationStore(await freshTable('review-kill'));
  admin = new InvocationAdminService({ store, log: silentLogger });
});

/** The parent's running attempt journals an Invoke at entry 1 and creates its child, in one write. */
async function attemptCreatesChild(parent: InvocationRecord): Promise<string> {
  const childId = childInvocationId(parent, 1);
  const out = await store.continueInline(
    parent,
    {
      append: [{ type: MessageType.Invoke, flags: 0, body: enc.encode('call') }],
      completions: new Map(),
      effects: [{ kind: 'create', inv: inv(childId, { caller: { invocationId: parent.id, entryIndex: 1 } }) }],
    },
    { leaseUntil: parent.leaseUntil },
  );
  expect(out.kind).toBe('committed');
  return childId;
}

describe('kill and cancel racing an attempt that creates a child', () => {
  it('a kill leaves no pending child of the killed invocation running', async () => {
    const parent = await store.accept(inv(newInvocationId()), { kind: 'take', leaseMs: 60_000 });
    // The kill read the parent (no pending calls yet); the attempt commits before the kill's write.
    const realKill = store.kill.bind(store);
    let childId: string | undefined;
    store.kill = async (id, result) => {
      if (id === parent.id && !childId) childId = await attemptCreatesChild(parent);
      return realKill(id, result);
    };
    expect((await admin.kill(parent.id, 'kill')).status).toBe(202);
    expect((await store.get(parent.id))?.status).toBe(InvocationStatus.Completed);
    const child = await store.get(childId!);
    // killed with its parent — before the fix: runnable, due now, will run.
    expect({ status: child?.status, result: child?.result }).toEqual({
      status: InvocationStatus.Completed,
      result: { kind: 'failure', code: 10, message: 'killed' },
    });
  });

  it('a cancel reaches a child created while the cancel ran', async () => {
    const parent = await store.accept(inv(newInvocationId()), { kind: 'take', leaseMs: 60_000 });
    const realCancel = store.requestCancel.bind(store);
    let childId: string | undefined;
    store.requestCancel = async (id) => {
      if (id === parent.id && !childId) childId = await attemptCreatesChild(parent);
      return realCancel(id);
    };
    expect((await admin.kill(parent.id, 'cancel')).status).toBe(202);
    const child = await store.get(childId!);
    // The child is cancelled (flagged, or ended CANCELLED) like any pending child.
    expect(child?.cancelRequested || child?.status === InvocationStatus.Completed).toBe(true);
  });
});
