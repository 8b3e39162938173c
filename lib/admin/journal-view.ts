/**
 * An invocation's journal as an operator reads it: one row per entry, what it is, whether it is
 * done and, when not, what it waits for (a timer's due time, a child invocation, an awakeable id).
 * Pure: the stored record in, JSON out.
 */
import { childInvocationId } from '../driver/enqueue.js';
import { decodeEntry, sleepWakeTime } from '../driver/plan.js';
import { invocationIdBytes } from '../ids.js';
import { encodeAwakeableId } from '../protocol/awakeable-id.js';
import { Flags, MessageType } from '../protocol/framing.js';
import { isMessage } from '../protocol/messages.js';
import type { Completion, InvocationRecord, JournalEntry } from '../store/invocation-item.js';

export interface JournalEntryView {
  /** 1 is the first entry after the input. */
  index: number;
  kind: string;
  /** State key, call target (`service/method`) or nothing. */
  name?: string;
  completed: boolean;
  /** The invocation a call or one-way send created. */
  child_id?: string;
  /** Pending entries: what would complete them. */
  waiting_for?: { timer: string } | { child: string } | { awakeable: string } | { state: string };
  /** Completed completable entries: how (the value itself is not shown). */
  result?: 'value' | 'empty' | { failure: { code: number; message: string } };
}

const KIND_NAMES: Record<number, string> = {
  [MessageType.PollInputStream]: 'input',
  [MessageType.OutputStream]: 'output',
  [MessageType.GetState]: 'get_state',
  [MessageType.SetState]: 'set_state',
  [MessageType.ClearState]: 'clear_state',
  [MessageType.ClearAllState]: 'clear_all_state',
  [MessageType.GetStateKeys]: 'get_state_keys',
  [MessageType.Sleep]: 'sleep',
  [MessageType.Invoke]: 'call',
  [MessageType.BackgroundInvoke]: 'one_way_call',
  [MessageType.Awakeable]: 'awakeable',
  [MessageType.CompleteAwakeable]: 'complete_awakeable',
  [MessageType.SideEffect]: 'side_effect',
  [MessageType.Combinator]: 'combinator',
};

/** Entries that wait for a result (the rest are done once journaled). */
const WAITING_TYPES = new Set<number>([MessageType.GetState, MessageType.GetStateKeys, MessageType.Sleep, MessageType.Invoke, MessageType.Awakeable]);

const decoder = new TextDecoder();

export function journalView(rec: InvocationRecord, now: number): JournalEntryView[] {
  return rec.journal.map((entry, i) => entryView(rec, entry, i + 1, now));
}

function entryView(rec: InvocationRecord, entry: JournalEntry, index: number, now: number): JournalEntryView {
  const kind = KIND_NAMES[entry.type] ?? `custom_0x${entry.type.toString(16)}`;
  const view: JournalEntryView = { index, kind, completed: true };
  let msg;
  try {
    msg = decodeEntry(entry);
  } catch {
    return view;
  }
  if (isMessage(msg, MessageType.GetState) || isMessage(msg, MessageType.SetState) || isMessage(msg, MessageType.ClearState)) {
    view.name = decoder.decode(msg.message.key);
  } else if (isMessage(msg, MessageType.Invoke) || isMessage(msg, MessageType.BackgroundInvoke)) {
    view.name = `${msg.message.serviceName}/${msg.message.methodName}`;
    view.child_id = childInvocationId(rec, index);
  }
  if (!WAITING_TYPES.has(entry.type)) return view;
  const stored: Completion | undefined =
    (entry.flags & Flags.Completed) !== 0
      ? completionInEntry(msg)
      : (rec.completions.get(index) ?? (entry.type === MessageType.Awakeable ? rec.awakeables.get(index) : undefined));
  if ((entry.flags & Flags.Completed) !== 0 || stored !== undefined) {
    view.result = resultView(stored);
    return view;
  }
  if (entry.type === MessageType.Sleep) {
    const wake = sleepWakeTime(entry);
    // A sleep whose time came is done: the next attempt replays it as completed.
    if (wake !== undefined && wake <= now) return { ...view, result: 'empty' };
    view.completed = false;
    view.waiting_for = { timer: wake === undefined || !Number.isFinite(wake) ? 'never' : new Date(Math.min(wake, 8.64e15)).toISOString() };
    return view;
  }
  view.completed = false;
  if (entry.type === MessageType.Invoke) view.waiting_for = { child: view.child_id! };
  else if (entry.type === MessageType.Awakeable) view.waiting_for = { awakeable: encodeAwakeableId(invocationIdBytes(rec.id), index) };
  else view.waiting_for = { state: view.name ?? '' };
  return view;
}

function completionInEntry(msg: ReturnType<typeof decodeEntry>): Completion | undefined {
  const result = (msg as { message?: { result?: { case?: string; value?: { code?: number; message?: string } } } }).message?.result;
  if (result?.case === 'failure') return { kind: 'failure', code: result.value?.code ?? 2, message: result.value?.message ?? '' };
  if (result?.case === 'empty') return { kind: 'empty' };
  if (result?.case === 'value') return { kind: 'value', value: new Uint8Array() };
  return undefined;
}

function resultView(c: Completion | undefined): JournalEntryView['result'] {
  if (c === undefined) return undefined;
  if (c.kind === 'failure') return { failure: { code: c.code, message: c.message } };
  return c.kind;
}
