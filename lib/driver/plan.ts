/**
 * The driver's replay and transition rules as pure functions: journal, completions and the
 * endpoint's new entries in; the completions to replay, the entries' effects, and what a
 * suspension waits for out. No I/O, no clock of their own (`now` is passed in), so every rule is
 * tested by transcripts (test/driver/plan.test.ts).
 */
import { Code } from '../errors.js';
import { Flags, MessageType } from '../protocol/framing.js';
import { COMPLETABLE_TYPES, decodeFrame, isMessage, stateKeysResult, type ProtocolMessage } from '../protocol/messages.js';
import { decodeAwakeableId } from '../protocol/awakeable-id.js';
import { invocationIdFromBytes } from '../ids.js';
import type { Completion, InvocationResult, JournalEntry, StateMap } from '../store/invocation-item.js';
import type { AwaitedEntry } from '../store/invocation-store.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The result of a killed invocation, and of a canceled one that never started. */
export const KILLED: InvocationResult = { kind: 'failure', code: Code.Aborted, message: 'killed' };
export const CANCELED: InvocationResult = { kind: 'failure', code: Code.Cancelled, message: 'canceled' };

export function decodeEntry(entry: JournalEntry): ProtocolMessage {
  return decodeFrame({ type: entry.type, flags: entry.flags, body: entry.body });
}

function isCompleted(entry: JournalEntry): boolean {
  return (entry.flags & Flags.Completed) !== 0;
}

/** Wake-up time of a sleep entry (ms since the epoch). */
export function sleepWakeTime(entry: JournalEntry): number | undefined {
  if (entry.type !== MessageType.Sleep) return undefined;
  const msg = decodeEntry(entry);
  return isMessage(msg, MessageType.Sleep) ? Number(msg.message.wakeUpTime) : undefined;
}

/** What the journal's stored view of an invocation is made of. */
export interface JournalView {
  journal: readonly JournalEntry[];
  completions: ReadonlyMap<number, Completion>;
  awakeables: ReadonlyMap<number, Completion>;
}

/**
 * The completions the endpoint sees at replay: those stored, awakeable results where the journal
 * really has an awakeable (a result held for another kind of entry is never applied), and sleeps
 * whose time has come. Index 1 is the first journal entry (0 is the input).
 */
export function replayCompletions(view: JournalView, now: number): Map<number, Completion> {
  const out = new Map(view.completions);
  view.journal.forEach((entry, i) => {
    const index = i + 1;
    if (isCompleted(entry) || out.has(index)) return;
    if (entry.type === MessageType.Awakeable) {
      const result = view.awakeables.get(index);
      if (result) out.set(index, result);
    } else if (entry.type === MessageType.Sleep) {
      const wake = sleepWakeTime(entry);
      if (wake !== undefined && wake <= now) out.set(index, { kind: 'empty' });
    }
  });
  return out;
}

/** Awakeable results held for indexes where the journal has another kind of entry: never applied. */
export function misdirectedAwakeables(view: JournalView): number[] {
  const out: number[] = [];
  for (const index of view.awakeables.keys()) {
    const entry = view.journal[index - 1];
    if (entry && entry.type !== MessageType.Awakeable) out.push(index);
  }
  return out;
}

/**
 * Graceful cancel (0.8 semantics): every entry still waiting (sleep, awakeable, state read) fails
 * with CANCELLED, so the handler sees a terminal error at its await and can compensate. Pending
 * calls are completed by their children, which the admin action cancels.
 */
export function cancelCompletions(journal: readonly JournalEntry[], completions: ReadonlyMap<number, Completion>): Map<number, Completion> {
  const out = new Map<number, Completion>();
  journal.forEach((entry, i) => {
    const index = i + 1;
    const waiting = !isCompleted(entry) && !completions.has(index);
    if (waiting && (entry.type === MessageType.Sleep || entry.type === MessageType.Awakeable || entry.type === MessageType.GetState)) {
      out.set(index, { kind: 'failure', code: Code.Cancelled, message: 'canceled' });
    }
  });
  return out;
}

/** A call, a one-way send or an awakeable completion an entry asks for. */
export type PlannedEffect =
  | { kind: 'call'; index: number; service: string; method: string; parameter: Uint8Array }
  | { kind: 'send'; index: number; service: string; method: string; parameter: Uint8Array; notBefore?: number }
  | { kind: 'awakeable'; index: number; target: string; entryIndex: number; completion: Completion }
  /** A CompleteAwakeable with an id we never handed out: journaled, completes nothing. */
  | { kind: 'bad-awakeable'; index: number; id: string; reason: string };

export interface EntriesPlan {
  append: JournalEntry[];
  /** Completions produced here (GetState, GetStateKeys answered from the state). */
  completions: Map<number, Completion>;
  state: StateMap;
  stateChanged: boolean;
  /** Set by an output entry. */
  result?: InvocationResult;
  effects: PlannedEffect[];
}

function resultOf(m: {
  result:
    | { case: 'value'; value: Uint8Array }
    | { case: 'failure'; value: { code: number; message: string } }
    | { case: undefined; value?: undefined }
    | { case: string; value?: unknown };
}): InvocationResult {
  if (m.result.case === 'failure') {
    const f = m.result.value as { code: number; message: string };
    return { kind: 'failure', code: f.code, message: f.message };
  }
  return { kind: 'value', value: m.result.case === 'value' ? (m.result.value as Uint8Array) : new Uint8Array(0) };
}

/**
 * Applies new entries to a view of the journal: state changes, completions the runtime answers
 * itself, the output, and the effects to commit with them. `firstIndex` is the index of the first
 * new entry (journal length + 1).
 */
export function planEntries(firstIndex: number, state: StateMap, entries: readonly JournalEntry[]): EntriesPlan {
  const next: StateMap = new Map(state);
  const completions = new Map<number, Completion>();
  const effects: PlannedEffect[] = [];
  let stateChanged = false;
  let result: InvocationResult | undefined;
  entries.forEach((entry, i) => {
    const index = firstIndex + i;
    const msg = decodeEntry(entry);
    if (isMessage(msg, MessageType.GetState)) {
      if (!isCompleted(entry)) {
        const value = next.get(decoder.decode(msg.message.key));
        completions.set(index, value === undefined ? { kind: 'empty' } : { kind: 'value', value });
      }
    } else if (isMessage(msg, MessageType.SetState)) {
      next.set(decoder.decode(msg.message.key), msg.message.value);
      stateChanged = true;
    } else if (isMessage(msg, MessageType.ClearState)) {
      next.delete(decoder.decode(msg.message.key));
      stateChanged = true;
    } else if (isMessage(msg, MessageType.ClearAllState)) {
      next.clear();
      stateChanged = true;
    } else if (isMessage(msg, MessageType.GetStateKeys)) {
      if (!isCompleted(entry)) completions.set(index, stateKeysResult([...next.keys()].map((k) => encoder.encode(k))));
    } else if (isMessage(msg, MessageType.OutputStream)) {
      result = resultOf(msg.message as never);
    } else if (isMessage(msg, MessageType.Invoke)) {
      effects.push({ kind: 'call', index, service: msg.message.serviceName, method: msg.message.methodName, parameter: msg.message.parameter });
    } else if (isMessage(msg, MessageType.BackgroundInvoke)) {
      const at = Number(msg.message.invokeTime);
      effects.push({
        kind: 'send',
        index,
        service: msg.message.serviceName,
        method: msg.message.methodName,
        parameter: msg.message.parameter,
        ...(at > 0 ? { notBefore: at } : {}),
      });
    } else if (isMessage(msg, MessageType.CompleteAwakeable)) {
      const completion = resultOf(msg.message as never) as Completion;
      try {
        const parts = decodeAwakeableId(msg.message.id);
        effects.push({ kind: 'awakeable', index, target: invocationIdFromBytes(parts.invocationIdBytes), entryIndex: parts.entryIndex, completion });
      } catch (err) {
        effects.push({ kind: 'bad-awakeable', index, id: msg.message.id, reason: (err as Error).message });
      }
    }
  });
  return { append: [...entries], completions, state: next, stateChanged, result, effects };
}

/** Entries that create something on another item (their effects join the journal write). */
function hasEffect(entry: JournalEntry): boolean {
  return entry.type === MessageType.Invoke || entry.type === MessageType.BackgroundInvoke || entry.type === MessageType.CompleteAwakeable;
}

/**
 * How many of the new entries to commit in one write: all of them, unless they carry more effects
 * than one transaction holds. The rest is not lost: the endpoint produces it again on the next
 * replay, after the first part is journaled.
 */
export function entriesThatFit(entries: readonly JournalEntry[], maxEffects: number): number {
  let effects = 0;
  for (let i = 0; i < entries.length; i++) {
    if (hasEffect(entries[i]!)) {
      effects++;
      if (effects > maxEffects) return Math.max(1, i);
    }
  }
  return entries.length;
}

export interface SuspensionPlan {
  /** One of the awaited entries can go on now: resume without waiting. */
  resumable: boolean;
  /** The earliest sleep among the awaited entries. */
  wakeAt?: number;
  /** What must still be missing for the suspension to stand (checked by the suspend write). */
  awaiting: AwaitedEntry[];
}

/**
 * What a suspension on `indexes` waits for, given the journal after this attempt's entries and
 * the completions known now.
 */
export function planSuspension(
  journal: readonly JournalEntry[],
  completions: ReadonlyMap<number, Completion>,
  awakeables: ReadonlyMap<number, Completion>,
  indexes: readonly number[],
  now: number,
): SuspensionPlan {
  let wakeAt: number | undefined;
  let resumable = false;
  const awaiting: AwaitedEntry[] = [];
  for (const index of indexes) {
    if (index === 0) {
      resumable = true;
      continue;
    }
    const entry = journal[index - 1];
    if (!entry) continue;
    if (!COMPLETABLE_TYPES.has(entry.type)) {
      resumable = true; // e.g. a side effect that asked for an ack: stored = acknowledged
      continue;
    }
    const isAwakeable = entry.type === MessageType.Awakeable;
    if (isCompleted(entry) || completions.has(index) || (isAwakeable && awakeables.has(index))) {
      resumable = true;
      continue;
    }
    const wake = sleepWakeTime(entry);
    if (wake !== undefined) {
      if (wake <= now) resumable = true;
      else wakeAt = wakeAt === undefined ? wake : Math.min(wakeAt, wake);
    }
    awaiting.push({ index, awakeable: isAwakeable });
  }
  return { resumable, wakeAt, awaiting };
}

/** Children behind Invoke entries that have no result yet (kill and cancel follow them). */
export function pendingCallIndexes(journal: readonly JournalEntry[], completions: ReadonlyMap<number, Completion>): number[] {
  const out: number[] = [];
  journal.forEach((entry, i) => {
    if (entry.type === MessageType.Invoke && !isCompleted(entry) && !completions.has(i + 1)) out.push(i + 1);
  });
  return out;
}
