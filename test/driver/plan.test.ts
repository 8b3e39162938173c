/**
 * The driver's replay and transition rules as transcripts: journal, completions and new entries
 * in; completions to replay, state, effects and what a suspension waits for out. No DynamoDB.
 */
import { describe, expect, it } from 'vitest';
import * as b from '../../lib/protocol/builders.js';
import { encodeAwakeableId } from '../../lib/protocol/awakeable-id.js';
import { Flags, splitFrames } from '../../lib/protocol/framing.js';
import { encodeMessage, type ProtocolMessage } from '../../lib/protocol/messages.js';
import { invocationIdBytes } from '../../lib/ids.js';
import {
  cancelCompletions,
  entriesThatFit,
  misdirectedAwakeables,
  pendingCallIndexes,
  planEntries,
  planSuspension,
  replayCompletions,
} from '../../lib/driver/plan.js';
import { buildRequestBody } from '../../lib/driver/request-response.js';
import type { Completion, JournalEntry } from '../../lib/store/invocation-item.js';

const enc = new TextEncoder();
const NOW = 1_700_000_000_000;
const v = (s: string): Completion => ({ kind: 'value', value: enc.encode(s) });

function entry(msg: ProtocolMessage): JournalEntry {
  const frame = splitFrames(encodeMessage(msg))[0]!;
  return { type: frame.type, flags: frame.flags, body: frame.body };
}

const view = (journal: JournalEntry[], completions: [number, Completion][] = [], awakeables: [number, Completion][] = []) => ({
  journal,
  completions: new Map(completions),
  awakeables: new Map(awakeables),
});

describe('replayCompletions', () => {
  it('folds stored completions, due sleeps, and awakeable results only where the journal has an awakeable', () => {
    const journal = [entry(b.sleep(NOW - 1)), entry(b.sleep(NOW + 1000)), entry(b.awakeable()), entry(b.invoke('s', 'm', 'p')), entry(b.awakeable())];
    const out = replayCompletions(
      view(
        journal,
        [[4, v('child')]],
        [
          [3, v('awk')],
          [1, v('forged for a sleep')],
        ],
      ),
      NOW,
    );
    expect(out).toEqual(
      new Map<number, Completion>([
        [4, v('child')],
        [1, { kind: 'empty' }],
        [3, v('awk')],
      ]),
    );
    expect(
      misdirectedAwakeables(
        view(
          journal,
          [],
          [
            [1, v('x')],
            [3, v('y')],
            [9, v('not yet')],
          ],
        ),
      ),
    ).toEqual([1]);
  });

  it('never poisons a replay: a result the entry cannot hold leaves it pending', () => {
    const journal = [entry(b.sleep(NOW + 1000))];
    const body = buildRequestBody({ id: 'inv_x', input: new Uint8Array(), journal, completions: new Map([[1, v('a value for a sleep')]]) }, new Map());
    const frames = splitFrames(body);
    expect(frames).toHaveLength(3); // start, input, the sleep
    expect(frames[2]!.flags & Flags.Completed).toBe(0);
  });
});

describe('planEntries', () => {
  it('applies state entries in order and answers state reads from the state as it is at that entry', () => {
    const entries = [b.getState('a'), b.setState('a', '1'), b.getState('a'), b.clearState('a'), b.getStateKeys(), b.output('done')].map(entry);
    const plan = planEntries(1, new Map([['a', enc.encode('0')]]), entries);
    expect(plan.completions.get(1)).toEqual(v('0'));
    expect(plan.completions.get(3)).toEqual(v('1'));
    expect(plan.state.size).toBe(0);
    expect(plan.stateChanged).toBe(true);
    expect(plan.result).toEqual(v('done'));
    expect(plan.effects).toEqual([]);
  });

  it('turns calls, sends (delayed or not) and awakeable completions into effects with their entry index', () => {
    const id = encodeAwakeableId(invocationIdBytes('inv_target_0000000000000'), 3);
    const entries = [
      b.invoke('svc', 'call', 'p1'),
      b.backgroundInvoke('svc', 'send', 'p2'),
      b.backgroundInvoke('svc', 'later', 'p3', NOW + 5000),
      b.completeAwakeable(id, { kind: 'value', value: enc.encode('r') }),
      b.completeAwakeable('prom_1garbage', { kind: 'value', value: enc.encode('r') }),
    ].map(entry);
    const plan = planEntries(5, new Map(), entries);
    expect(plan.effects).toMatchObject([
      { kind: 'call', index: 5, service: 'svc', method: 'call' },
      { kind: 'send', index: 6, method: 'send' },
      { kind: 'send', index: 7, method: 'later', notBefore: NOW + 5000 },
      { kind: 'awakeable', index: 8, target: 'inv_target_0000000000000', entryIndex: 3, completion: v('r') },
      { kind: 'bad-awakeable', index: 9 },
    ]);
    expect(plan.effects[1]).not.toHaveProperty('notBefore');
  });

  it('cuts a batch with more effects than one write holds, never below one entry', () => {
    const calls = Array.from({ length: 5 }, (_, i) => entry(b.invoke('s', 'm', String(i))));
    expect(entriesThatFit(calls, 3)).toBe(3);
    expect(entriesThatFit([entry(b.setState('k', 'v')), ...calls], 3)).toBe(4);
    expect(entriesThatFit(calls, 10)).toBe(5);
    expect(entriesThatFit(calls, 0)).toBe(1);
  });
});

describe('planSuspension', () => {
  it('waits for the earliest sleep, and lists what must still be missing', () => {
    const journal = [entry(b.sleep(NOW + 5000)), entry(b.sleep(NOW + 3000)), entry(b.awakeable()), entry(b.invoke('s', 'm', 'p'))];
    expect(planSuspension(journal, new Map(), new Map(), [1, 2, 3, 4], NOW)).toEqual({
      resumable: false,
      wakeAt: NOW + 3000,
      awaiting: [
        { index: 1, awakeable: false },
        { index: 2, awakeable: false },
        { index: 3, awakeable: true },
        { index: 4, awakeable: false },
      ],
    });
  });

  it('resumes at once when an awaited entry is done: a due sleep, a stored completion, an awakeable result', () => {
    const journal = [entry(b.sleep(NOW - 1)), entry(b.awakeable()), entry(b.invoke('s', 'm', 'p'))];
    expect(planSuspension(journal, new Map(), new Map(), [1], NOW).resumable).toBe(true);
    expect(planSuspension(journal, new Map(), new Map([[2, v('x')]]), [2], NOW).resumable).toBe(true);
    expect(planSuspension(journal, new Map([[3, v('x')]]), new Map(), [3], NOW).resumable).toBe(true);
    expect(planSuspension(journal, new Map(), new Map(), [2, 3], NOW).resumable).toBe(false);
  });
});

describe('cancel and kill rules', () => {
  it('fails every waiting sleep, awakeable and state read with CANCELLED, and nothing done', () => {
    const journal = [entry(b.sleep(NOW + 1000)), entry(b.awakeable()), entry(b.awakeable(v('done'))), entry(b.invoke('s', 'm', 'p')), entry(b.getState('k'))];
    const out = cancelCompletions(journal, new Map());
    expect([...out.keys()]).toEqual([1, 2, 5]);
    expect(out.get(1)).toEqual({ kind: 'failure', code: 1, message: 'canceled' });
    expect(pendingCallIndexes(journal, new Map())).toEqual([4]);
    expect(pendingCallIndexes(journal, new Map([[4, v('r')]]))).toEqual([]);
  });
});
