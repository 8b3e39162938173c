/**
 * The chaos invariants on hand-made observations: a consistent picture passes, and each kind of
 * defect the suite hunts for is named by exactly the invariant meant to catch it.
 */
import { describe, expect, it } from 'vitest';
import type { CallOutcome } from './http-client.js';
import { InvocationHistory } from './history.js';
import type { InvocationView } from './inspect.js';
import { checkInvariants, type CheckInput } from './invariants.js';
import type { WorkloadRecord } from './records.js';
import { Ledger, type LedgerEntry } from './workload.js';

const T0 = 1_000_000;
const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

function answer(status: number, body: unknown, at = T0 + 100, id?: string): CallOutcome {
  return { kind: 'answer', status, id, text: JSON.stringify(body), json: body, at };
}

function view(
  id: string,
  service: string,
  method: string,
  key: string,
  result: InvocationView['result'] = { kind: 'value', value: json(1) },
  status = 'completed',
): InvocationView {
  return { id, status, service, method, key, result, journal: [] };
}

function entry(e: Partial<LedgerEntry> & Pick<LedgerEntry, 'tag' | 'kind' | 'target'>): LedgerEntry {
  return { call: 'sync', runner: 'runner-0', sentAt: T0, ...e };
}

/** A small seed where everything went right: an effects call, two increments, a FIFO client, a send, a kill. */
function consistent(): CheckInput {
  const ledger = new Ledger();
  ledger.entries.push(
    entry({ tag: 'o1', kind: 'effects', target: 'chaosWork/effects', id: 'inv_a', outcome: answer(200, { response: '7' }) }),
    entry({ tag: 'o2', kind: 'counter', target: 'chaosCounter/add', key: 'c0', id: 'inv_b', outcome: answer(200, { response: 1 }) }),
    entry({ tag: 'o3', kind: 'counter', target: 'chaosCounter/add', key: 'c0', id: 'inv_c', outcome: answer(200, { response: 2 }) }),
    entry({
      tag: 'o4.0',
      kind: 'fifo',
      target: 'chaosFifo/append',
      key: 'f0',
      client: 'o4',
      seq: 0,
      id: 'inv_d',
      sentAt: T0,
      outcome: answer(200, { response: 1 }, T0 + 50),
    }),
    entry({
      tag: 'o4.1',
      kind: 'fifo',
      target: 'chaosFifo/append',
      key: 'f0',
      client: 'o4',
      seq: 1,
      id: 'inv_e',
      sentAt: T0 + 60,
      outcome: answer(200, { response: 2 }, T0 + 90),
    }),
    entry({ tag: 'o5', kind: 'send', target: 'chaosWork/send', id: 'inv_f', outcome: answer(200, { response: 'sent' }) }),
    entry({ tag: 'o6', kind: 'sleepLong', target: 'chaosWork/sleep', call: 'invoke', id: 'inv_g', outcome: answer(200, { id: 'inv_g' }) }),
  );
  ledger.kills.push({
    mode: 'kill',
    id: 'inv_g',
    tag: 'o6',
    admin: 'runner-1',
    sentAt: T0 + 200,
    outcome: answer(202, { id: 'inv_g', status: 'killed' }, T0 + 300),
  });
  const views = [
    view('inv_a', 'chaosWork', 'effects', 'inv_a'),
    view('inv_b', 'chaosCounter', 'add', 'c0'),
    view('inv_c', 'chaosCounter', 'add', 'c0'),
    view('inv_d', 'chaosFifo', 'append', 'f0'),
    view('inv_e', 'chaosFifo', 'append', 'f0'),
    view('inv_f', 'chaosWork', 'send', 'inv_f'),
    view('inv_h', 'chaosCounter', 'add', 'c1'),
    view('inv_g', 'chaosWork', 'sleep', 'inv_g', { kind: 'failure', code: 10, message: 'killed' }),
  ];
  const records: WorkloadRecord[] = [
    { k: 'start', tag: 'o1', att: 'a1', at: T0 + 10 },
    { k: 'fx', tag: 'o1', att: 'a1', at: T0 + 11, step: 0, v: 7 },
    { k: 'start', tag: 'o1', att: 'a2', at: T0 + 20 },
    { k: 'seen', tag: 'o1', att: 'a2', at: T0 + 21, step: 0, v: 7 },
    { k: 'start', tag: 'o5/send', att: 's1', at: T0 + 30 },
    { k: 'done', tag: 'o5/send', att: 's1', at: T0 + 31, v: 1 },
    { k: 'start', tag: 'o6', att: 'g1', at: T0 + 40 },
    { k: 'fx', tag: 'o6', att: 'g1', at: T0 + 41, step: 0, v: 3 },
  ];
  const history = new InvocationHistory();
  history.observe(views, T0 + 500);
  const outputs = new Map<string, CallOutcome>(ledger.entries.filter((e) => e.call === 'sync').map((e) => [e.id!, e.outcome!]));
  return {
    ledger,
    views,
    history,
    records,
    outputs,
    counters: new Map([
      ['c0', 2],
      ['c1', 1],
    ]),
    fifos: new Map([['f0', ['o4:0', 'o4:1']]]),
    freezes: [],
    quiescent: true,
  };
}

const names = (input: CheckInput) => checkInvariants(input).map((v) => v.invariant);

describe('chaos invariants', () => {
  it('find nothing when every observation agrees', () => {
    expect(checkInvariants(consistent())).toEqual([]);
  });

  it.each<{ $case: string; expected: string; mutate: (i: CheckInput) => void }>([
    { $case: 'an answered id missing from the table', expected: 'accepted-lost', mutate: (i) => i.views.splice(0, 1) },
    { $case: 'an invocation left suspended', expected: 'stuck', mutate: (i) => (i.views[7]!.status = 'suspended') },
    {
      $case: 'a caller answered another value than the stored one',
      expected: 'answer-mismatch',
      mutate: (i) => i.outputs.set('inv_a', answer(200, { response: '8' })),
    },
    {
      $case: 'two values journaled for one side effect',
      expected: 'side-effect-twice',
      mutate: (i) =>
        i.records.push({ k: 'fx', tag: 'o1', att: 'a3', at: T0 + 30, step: 0, v: 8 }, { k: 'seen', tag: 'o1', att: 'a4', at: T0 + 31, step: 0, v: 8 }),
    },
    {
      $case: 'a value no execution produced',
      expected: 'side-effect-unknown',
      mutate: (i) =>
        i.records.push({ k: 'seen', tag: 'o1', att: 'a5', at: T0 + 32, step: 0, v: 7 }, { k: 'seen', tag: 'o1', att: 'a6', at: T0 + 33, step: 1, v: 9 }),
    },
    { $case: 'an increment applied twice', expected: 'counter-mismatch', mutate: (i) => i.counters.set('c0', 3) },
    {
      $case: 'two increments answered the same count',
      expected: 'counter-duplicate',
      mutate: (i) => (i.ledger.entries[2]!.outcome = answer(200, { response: 1 })),
    },
    { $case: 'a FIFO entry twice', expected: 'fifo-duplicate', mutate: (i) => i.fifos.set('f0', ['o4:0', 'o4:1', 'o4:1']) },
    { $case: 'FIFO order broken for one client', expected: 'fifo-order', mutate: (i) => i.fifos.set('f0', ['o4:1', 'o4:0']) },
    { $case: 'a completed append missing', expected: 'fifo-missing', mutate: (i) => i.fifos.set('f0', ['o4:0']) },
    {
      $case: 'a kill answered "killed" but a value stored',
      expected: 'killed-not-killed',
      mutate: (i) => (i.views[7]!.result = { kind: 'value', value: json('slept') }),
    },
    {
      $case: 'side effects of two steps after the kill was answered',
      expected: 'ran-after-kill',
      mutate: (i) =>
        i.records.push(
          { k: 'start', tag: 'o6', att: 'g2', at: T0 + 2000 },
          { k: 'fx', tag: 'o6', att: 'g2', at: T0 + 2001, step: 0, v: 4 },
          { k: 'start', tag: 'o6', att: 'g3', at: T0 + 2100 },
          { k: 'fx', tag: 'o6', att: 'g3', at: T0 + 2101, step: 1, v: 5 },
        ),
    },
    {
      $case: 'a side effect after completion',
      expected: 'ran-after-completion',
      mutate: (i) => i.records.push({ k: 'start', tag: 'o1', att: 'a7', at: T0 + 3000 }, { k: 'fx', tag: 'o1', att: 'a7', at: T0 + 3001, step: 1, v: 5 }),
    },
    {
      $case: 'a completed invocation back to running',
      expected: 'resurrected',
      mutate: (i) => i.history.observe([{ ...i.views[0]!, status: 'invoked' }], T0 + 900),
    },
    {
      $case: 'one idempotency key, two ids',
      expected: 'idempotency-ids',
      mutate: (i) =>
        i.ledger.entries.push(
          entry({ tag: 'o9', kind: 'idempotent', target: 'chaosWork/effects', idempotencyKey: 'k', id: 'inv_x', outcome: answer(408, {}) }),
          entry({ tag: 'o9', kind: 'idempotent', target: 'chaosWork/effects', idempotencyKey: 'k', id: 'inv_y', outcome: answer(408, {}) }),
        ),
    },
    { $case: 'a completed send whose target never ran', expected: 'send-lost', mutate: (i) => i.records.splice(4, 2) },
  ])('name $expected for $case', ({ expected, mutate }) => {
    // Prepare
    const input = consistent();

    // Act
    mutate(input);

    // Assess
    expect(names(input)).toContain(expected);
  });

  it('allow the one step an attempt under way when the kill landed may still send', () => {
    // Prepare
    const input = consistent();
    input.records.push({ k: 'start', tag: 'o6', att: 'g2', at: T0 + 2000 }, { k: 'fx', tag: 'o6', att: 'g2', at: T0 + 2001, step: 0, v: 4 });

    // Act & Assess
    expect(names(input)).toEqual([]);
  });

  it('excuse an attempt that reached the handler late because its runner was frozen across the kill', () => {
    // Prepare: a freeze spans the kill; the late attempt comes right after the thaw.
    const input = consistent();
    input.freezes.push({ from: T0 + 250, to: T0 + 1900 });
    input.records.push({ k: 'start', tag: 'o6', att: 'g2', at: T0 + 2000 }, { k: 'fx', tag: 'o6', att: 'g2', at: T0 + 2001, step: 0, v: 4 });

    // Act & Assess
    expect(names(input)).toEqual([]);
  });
});
