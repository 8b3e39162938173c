/**
 * The journal as an operator reads it, as transcripts: stored entries and completions in, one row
 * per entry out — completed or pending, and what a pending one waits for.
 */
import { describe, expect, it } from 'vitest';
import { journalView } from '../../lib/admin/journal-view.js';
import { childInvocationId } from '../../lib/driver/enqueue.js';
import { invocationIdBytes } from '../../lib/ids.js';
import { encodeAwakeableId } from '../../lib/protocol/awakeable-id.js';
import * as b from '../../lib/protocol/builders.js';
import { splitFrames } from '../../lib/protocol/framing.js';
import { encodeMessage, type ProtocolMessage } from '../../lib/protocol/messages.js';
import type { Completion, InvocationRecord, JournalEntry } from '../../lib/store/invocation-item.js';

const NOW = 1_800_000_000_000;
const ID = 'inv_AAAAAAAAAAAAAAAAAAAAAA';

function entry(msg: ProtocolMessage): JournalEntry {
  const frame = splitFrames(encodeMessage(msg))[0]!;
  return { type: frame.type, flags: frame.flags, body: frame.body };
}

function record(journal: ProtocolMessage[], completions: [number, Completion][] = [], awakeables: [number, Completion][] = []): InvocationRecord {
  return {
    id: ID,
    service: 'svc',
    method: 'm',
    key: ID,
    kind: 'unkeyed',
    input: new Uint8Array(),
    endpointId: 'ep',
    retentionSec: 60,
    status: 'suspended',
    epoch: 1,
    leaseUntil: 0,
    dueAt: undefined,
    journal: journal.map(entry),
    completions: new Map(completions),
    awakeables: new Map(awakeables),
    state: new Map(),
    attempts: 0,
    createdAt: NOW - 1000,
    modifiedAt: NOW,
    cancelRequested: false,
    cancelSeq: 0,
    cancelDone: 0,
  };
}

describe('journalView', () => {
  it('names each entry and says what the pending ones wait for', () => {
    const rec = record([
      b.setState('count', '1'),
      b.getState('count', b.valueResult('1')),
      b.sleep(NOW + 60_000),
      b.invoke('other', 'run', 'x'),
      b.awakeable(),
      b.backgroundInvoke('other', 'later', 'y'),
    ]);

    expect(journalView(rec, NOW)).toEqual([
      { index: 1, kind: 'set_state', name: 'count', completed: true },
      { index: 2, kind: 'get_state', name: 'count', completed: true, result: 'value' },
      { index: 3, kind: 'sleep', completed: false, waiting_for: { timer: new Date(NOW + 60_000).toISOString() } },
      { index: 4, kind: 'call', name: 'other/run', completed: false, child_id: childInvocationId(rec, 4), waiting_for: { child: childInvocationId(rec, 4) } },
      { index: 5, kind: 'awakeable', completed: false, waiting_for: { awakeable: encodeAwakeableId(invocationIdBytes(ID), 5) } },
      { index: 6, kind: 'one_way_call', name: 'other/later', completed: true, child_id: childInvocationId(rec, 6) },
    ]);
  });

  it.each([
    {
      case: 'a stored completion of a call',
      journal: [b.invoke('o', 'r', 'x')],
      completions: [[1, { kind: 'failure', code: 9, message: 'nope' }]] as [number, Completion][],
      awakeables: [],
      result: { failure: { code: 9, message: 'nope' } },
    },
    {
      case: 'an awakeable result that arrived',
      journal: [b.awakeable()],
      completions: [],
      awakeables: [[1, { kind: 'value', value: new Uint8Array([1]) }]] as [number, Completion][],
      result: 'value',
    },
    { case: 'a sleep whose time came', journal: [b.sleep(NOW - 1)], completions: [], awakeables: [], result: 'empty' },
  ])('counts $case as completed', ({ journal, completions, awakeables, result }) => {
    const [row] = journalView(record(journal, completions, awakeables), NOW);

    expect(row).toMatchObject({ completed: true, result });
    expect(row?.waiting_for).toBeUndefined();
  });

  it('does not apply an awakeable result held for an entry of another kind', () => {
    const [row] = journalView(record([b.sleep(NOW + 5)], [], [[1, { kind: 'empty' }]]), NOW);

    expect(row).toMatchObject({ kind: 'sleep', completed: false });
  });
});
