/**
 * The invariants checked once a seed is quiescent. Each one reads only what the harness observed
 * (ledger of calls and answers, the final table scan and its history, the endpoint's records,
 * the ingress's answers at the end) and says which invocation broke it.
 */
import type { CallOutcome } from './http-client.js';
import { connectCode, sameJson } from './http-client.js';
import type { InvocationHistory } from './history.js';
import { isTerminal, journaledSideEffects, type InvocationView } from './inspect.js';
import type { WorkloadRecord } from './records.js';
import type { Ledger, LedgerEntry } from './workload.js';

export interface Violation {
  invariant: string;
  id?: string;
  tag?: string;
  detail: string;
}

export interface CheckInput {
  ledger: Ledger;
  /** The last table scan (at quiescence, or when the bound ran out). */
  views: InvocationView[];
  history: InvocationHistory;
  records: WorkloadRecord[];
  /** `GET /restate/invocation/{id}/output` at the end, for every id whose call was answered. */
  outputs: Map<string, CallOutcome>;
  /** Final `chaosCounter/get` per key (undefined: could not be read). */
  counters: Map<string, number | undefined>;
  /** Final `chaosFifo/list` per key. */
  fifos: Map<string, string[] | undefined>;
  /** When runners were frozen: an attempt sent before a freeze may reach the endpoint after it. */
  freezes: { from: number; to: number }[];
  /**
   * Whether the seed became quiescent. If not, the final reads race invocations that still move,
   * so the checks that compare the table with state read later (counters, FIFO counts) are skipped:
   * the stuck invocations already fail the seed.
   */
  quiescent: boolean;
}

/**
 * How late (ms) an attempt may reach the handler after the moment it must not start any more
 * (kill answered, completion seen) and still be an attempt that began before: the take → read →
 * send path of a runner under injected latency.
 */
export const LATE_ATTEMPT_GRACE_MS = 500;

const ABORTED = 10;
/** Connect codes of answers that carry the invocation's own result (not an ingress or transport failure). */
const RESULT_CODES = new Set(['aborted', 'cancelled']);

export function checkInvariants(input: CheckInput): Violation[] {
  return [
    ...acceptedAreStoredAndTerminal(input),
    ...answersMatchStoredResults(input),
    ...sideEffectsOnce(input),
    ...(input.quiescent ? countersExact(input) : []),
    ...fifoKept(input),
    ...killedStayKilled(input),
    ...noRunAfterCompletion(input),
    ...oneOutcomeOverTime(input),
    ...idempotentRanOnce(input),
    ...sendsDelivered(input),
  ];
}

function byId(views: InvocationView[]): Map<string, InvocationView> {
  return new Map(views.map((v) => [v.id, v]));
}

/** Every id an ingress handed out exists; nothing in the table is left non-terminal. */
function acceptedAreStoredAndTerminal({ ledger, views }: CheckInput): Violation[] {
  const out: Violation[] = [];
  const stored = byId(views);
  for (const id of ledger.acceptedIds()) {
    if (!stored.has(id)) {
      const e = ledger.entries.find((x) => x.id === id)!;
      out.push({
        invariant: 'accepted-lost',
        id,
        tag: e.tag,
        detail: `${e.call} ${e.target} was answered with this id (${describe(e.outcome)}) but the table has no such invocation`,
      });
    }
  }
  for (const v of views) {
    if (!isTerminal(v)) {
      const failure = v.lastFailure ? `, last failure: ${v.lastFailure.slice(0, 160)}` : '';
      const attempts = v.attempts !== undefined ? ` (attempt ${v.attempts}${failure})` : '';
      out.push({
        invariant: 'stuck',
        id: v.id,
        tag: tagOf(ledger, v.id),
        detail: `${v.service}/${v.method}${v.key && v.service !== 'chaosWork' ? ` key ${v.key}` : ''} is still '${v.status}'${attempts}`,
      });
    }
  }
  return out;
}

/** A caller that got an answer got the result that is stored. */
function answersMatchStoredResults({ ledger, outputs }: CheckInput): Violation[] {
  const out: Violation[] = [];
  for (const e of ledger.entries) {
    if (e.call !== 'sync' || !e.id || e.outcome?.kind !== 'answer') continue;
    const code = connectCode(e.outcome);
    if (e.outcome.status !== 200 && !(code && RESULT_CODES.has(code))) continue;
    const stored = outputs.get(e.id);
    if (!stored || stored.kind !== 'answer') {
      out.push({ invariant: 'answer-unverifiable', id: e.id, tag: e.tag, detail: `the stored output could not be read: ${describe(stored)}` });
      continue;
    }
    if (stored.status !== e.outcome.status || !sameJson(stored.json, e.outcome.json)) {
      out.push({
        invariant: 'answer-mismatch',
        id: e.id,
        tag: e.tag,
        detail: `the caller got ${e.outcome.status} ${e.outcome.text.slice(0, 200)}; stored: ${stored.status} ${stored.text.slice(0, 200)}`,
      });
    }
  }
  return out;
}

/** The handler never continues with two values for one side effect, nor with one no execution produced. */
function sideEffectsOnce({ ledger, views, records }: CheckInput): Violation[] {
  const out: Violation[] = [];
  const executed = new Map<string, Set<number>>();
  const seen = new Map<string, Set<number>>();
  for (const r of records) {
    if (r.k !== 'fx' && r.k !== 'seen') continue;
    const key = `${r.tag}#${r.step}`;
    const map = r.k === 'fx' ? executed : seen;
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(r.v);
  }
  for (const [key, values] of seen) {
    const [tag, step] = key.split('#');
    if (values.size > 1)
      out.push({
        invariant: 'side-effect-twice',
        id: idOf(ledger, tag!),
        tag,
        detail: `step ${step}: the handler continued with ${values.size} different values (${[...values].join(', ')}): the side effect was journaled more than once`,
      });
    for (const v of values) {
      if (!executed.get(key)?.has(v))
        out.push({
          invariant: 'side-effect-unknown',
          id: idOf(ledger, tag!),
          tag,
          detail: `step ${step}: the handler continued with ${v}, which no execution produced`,
        });
    }
  }
  // Where the store kept the journal, its side effects are the values the handler went on with.
  const stored = byId(views);
  for (const e of uniqueById(ledger.entries)) {
    const view = stored.get(e.id!);
    if (!view || view.journal.length === 0 || e.kind === 'fifo') continue;
    journaledSideEffects(view).forEach((value, step) => {
      const handlerSaw = seen.get(`${e.tag}#${step}`);
      if (handlerSaw && !handlerSaw.has(value as number))
        out.push({
          invariant: 'side-effect-journal',
          id: view.id,
          tag: e.tag,
          detail: `step ${step}: the journal holds ${JSON.stringify(value)}, the handler continued with ${[...handlerSaw].join(', ')}`,
        });
    });
  }
  return out;
}

/** A counter equals the number of increments that completed with a value; answered values are distinct. */
function countersExact({ ledger, views, counters }: CheckInput): Violation[] {
  const out: Violation[] = [];
  const adds = views.filter((v) => v.service === 'chaosCounter' && v.method === 'add');
  for (const [key, value] of counters) {
    const done = adds.filter((v) => v.key === key && isTerminal(v) && v.result?.kind === 'value').length;
    if (value === undefined) out.push({ invariant: 'counter-unreadable', detail: `counter ${key} could not be read at the end` });
    else if (value !== done)
      out.push({
        invariant: 'counter-mismatch',
        detail: `counter ${key} is ${value}, but ${done} increments completed with a value (killed and failed ones excluded)`,
      });
  }
  const answered = new Map<string, LedgerEntry>();
  for (const e of uniqueById(ledger.entries)) {
    if (e.target !== 'chaosCounter/add' || e.call !== 'sync' || e.outcome?.kind !== 'answer' || e.outcome.status !== 200) continue;
    const n = JSON.stringify((e.outcome.json as { response?: unknown }).response);
    const other = answered.get(`${e.key}#${n}`);
    if (other)
      out.push({ invariant: 'counter-duplicate', id: e.id, tag: e.tag, detail: `two increments of ${e.key} both answered ${n} (the other: ${other.id})` });
    answered.set(`${e.key}#${n}`, e);
  }
  return out;
}

/** One client's appends, each sent after the previous was answered, appear once and in order. */
function fifoKept({ ledger, views, fifos, quiescent }: CheckInput): Violation[] {
  const out: Violation[] = [];
  const stored = byId(views);
  for (const [key, list] of fifos) {
    if (!list) {
      out.push({ invariant: 'fifo-unreadable', detail: `FIFO ${key} could not be read at the end` });
      continue;
    }
    const dup = list.filter((x, i) => list.indexOf(x) !== i);
    if (dup.length) out.push({ invariant: 'fifo-duplicate', detail: `FIFO ${key} holds ${dup.join(', ')} more than once: ${list.join(' ')}` });
    const appended = views.filter((v) => v.service === 'chaosFifo' && v.method === 'append' && v.key === key && v.result?.kind === 'value').length;
    if (quiescent && appended !== list.length)
      out.push({ invariant: 'fifo-count', detail: `FIFO ${key} holds ${list.length} entries, but ${appended} appends completed with a value` });
    const entries = ledger.entries.filter((e) => e.kind === 'fifo' && e.key === key);
    for (const e of entries) {
      const view = e.id ? stored.get(e.id) : undefined;
      const present = list.includes(`${e.client}:${e.seq}`);
      if (view?.result?.kind === 'value' && !present)
        out.push({ invariant: 'fifo-missing', id: e.id, tag: e.tag, detail: `append ${e.client}:${e.seq} completed with a value but is not in FIFO ${key}` });
    }
    for (const a of entries) {
      for (const b of entries) {
        if (a.client !== b.client || a === b || !acknowledgedBefore(a, b)) continue;
        const ia = list.indexOf(`${a.client}:${a.seq}`);
        const ib = list.indexOf(`${b.client}:${b.seq}`);
        if (ia >= 0 && ib >= 0 && ia > ib)
          out.push({
            invariant: 'fifo-order',
            id: b.id,
            tag: b.tag,
            detail: `${b.client}:${b.seq} was sent after ${a.client}:${a.seq} was answered, yet comes first in FIFO ${key}: ${list.join(' ')}`,
          });
      }
    }
  }
  return out;
}

/** `a` was answered with an invocation id before `b` was sent. */
function acknowledgedBefore(a: LedgerEntry, b: LedgerEntry): boolean {
  return a.id !== undefined && a.outcome?.kind === 'answer' && a.outcome.at <= b.sentAt;
}

/** A kill that answered "killed" leaves ABORTED "killed", and nothing of the tree runs a side effect in a later attempt. */
function killedStayKilled(input: CheckInput): Violation[] {
  const out: Violation[] = [];
  const stored = byId(input.views);
  for (const k of input.ledger.kills) {
    if (
      k.mode !== 'kill' ||
      k.outcome.kind !== 'answer' ||
      k.outcome.status !== 202 ||
      (k.outcome.json as { status?: string } | undefined)?.status !== 'killed'
    )
      continue;
    const view = stored.get(k.id);
    const r = view?.result;
    if (!view || r?.kind !== 'failure' || r.code !== ABORTED || r.message !== 'killed') {
      out.push({
        invariant: 'killed-not-killed',
        id: k.id,
        tag: k.tag,
        detail: `the kill answered 'killed', but the stored outcome is ${view ? `${view.status} ${r ? (r.kind === 'value' ? 'a value' : `failure ${r.code} ${r.message}`) : 'without result'}` : 'missing'}`,
      });
    }
    // An attempt under way when the kill landed may still send the one step it is at (its result
    // is fenced, and the attempt stops there): one late step per invocation of the tree is allowed.
    const late = beyondOneStep(lateAttempts(input, (tag) => tag === k.tag || tag.startsWith(`${k.tag}/`), k.outcome.at));
    if (late.length > 0)
      out.push({
        invariant: 'ran-after-kill',
        id: k.id,
        tag: late[0]!.tag,
        detail: `${late.length} attempt(s) reached the handler after the kill was answered (beyond the one step an attempt under way may still send) and ran side effects, the first ${late[0]!.start - k.outcome.at} ms after (${describeLate(late)})`,
      });
  }
  return out;
}

/** No attempt of a finished invocation starts (and runs a side effect) after it was seen finished. */
function noRunAfterCompletion(input: CheckInput): Violation[] {
  const out: Violation[] = [];
  // A kill is a completion too; attempts after it are reported once, as ran-after-kill.
  const killed = new Set(input.ledger.kills.filter((k) => k.mode === 'kill' && k.outcome.kind === 'answer' && k.outcome.status === 202).map((k) => k.id));
  for (const e of uniqueById(input.ledger.entries)) {
    if (killed.has(e.id!)) continue;
    const since = input.history.terminalSince(e.id!);
    const answered = e.call === 'sync' && e.outcome?.kind === 'answer' && e.outcome.status === 200 ? e.outcome.at : undefined;
    const end = Math.min(since ?? Infinity, answered ?? Infinity);
    if (!Number.isFinite(end)) continue;
    const late = lateAttempts(input, (tag) => tag === e.tag, end);
    if (late.length > 0)
      out.push({
        invariant: 'ran-after-completion',
        id: e.id,
        tag: e.tag,
        detail: `${late.length} attempt(s) reached the handler after the invocation was seen finished and ran side effects, the first ${late[0]!.start - end} ms after (${describeLate(late)})`,
      });
  }
  return out;
}

/** Side effects run by attempts that reached the handler after `after` (beyond the grace and any freeze that spans it). */
function lateAttempts(input: CheckInput, matches: (tag: string) => boolean, after: number): { tag: string; start: number; step: number }[] {
  const starts = new Map<string, number>();
  for (const r of input.records) if (r.k === 'start') starts.set(r.att, r.at);
  const excused = (start: number) => input.freezes.some((f) => f.from <= after && start <= f.to + LATE_ATTEMPT_GRACE_MS);
  const out: { tag: string; start: number; step: number }[] = [];
  // One line per attempt (its first late side effect), in the order they ran.
  const seen = new Set<string>();
  for (const r of input.records) {
    if (r.k !== 'fx' || !matches(r.tag) || seen.has(r.att)) continue;
    const start = starts.get(r.att) ?? r.at;
    if (start > after + LATE_ATTEMPT_GRACE_MS && !excused(start)) {
      seen.add(r.att);
      out.push({ tag: r.tag, start, step: r.step });
    }
  }
  return out.sort((a, b) => a.start - b.start);
}

/** Late attempts beyond the first of each invocation (tag). */
function beyondOneStep(late: { tag: string; start: number; step: number }[]): { tag: string; start: number; step: number }[] {
  const seen = new Set<string>();
  return late.filter((l) => {
    if (!seen.has(l.tag)) {
      seen.add(l.tag);
      return false;
    }
    return true;
  });
}

function describeLate(late: { tag: string; start: number; step: number }[]): string {
  const shown = late.slice(0, 3).map((l) => `${l.tag} step ${l.step}`);
  return late.length > 3 ? `${shown.join(', ')}, …` : shown.join(', ');
}

/** Once terminal, always terminal with the same result. */
function oneOutcomeOverTime({ ledger, history }: CheckInput): Violation[] {
  return history.resurrections.map((r) => ({
    invariant: 'resurrected',
    id: r.id,
    tag: tagOf(ledger, r.id),
    detail: `first seen terminal with ${r.firstResult}, later ${r.now}`,
  }));
}

/** Duplicates of one idempotency key: one invocation id, one answer. */
function idempotentRanOnce({ ledger }: CheckInput): Violation[] {
  const out: Violation[] = [];
  const groups = new Map<string, LedgerEntry[]>();
  for (const e of ledger.entries) {
    if (!e.idempotencyKey) continue;
    const group = groups.get(e.idempotencyKey) ?? [];
    group.push(e);
    groups.set(e.idempotencyKey, group);
  }
  for (const [key, group] of groups) {
    const ids = new Set(group.flatMap((e) => (e.id ? [e.id] : [])));
    if (ids.size > 1)
      out.push({ invariant: 'idempotency-ids', tag: group[0]!.tag, detail: `idempotency key ${key} got ${ids.size} invocation ids: ${[...ids].join(', ')}` });
    const answers = group.filter((e) => e.call === 'sync' && e.outcome?.kind === 'answer' && e.outcome.status === 200);
    const first = answers[0];
    for (const e of answers.slice(1)) {
      if (first && e.outcome?.kind === 'answer' && first.outcome?.kind === 'answer' && !sameJson(e.outcome.json, first.outcome.json)) {
        out.push({
          invariant: 'idempotency-answers',
          id: e.id,
          tag: e.tag,
          detail: `idempotency key ${key} answered ${first.outcome.text} and later ${e.outcome.text}`,
        });
      }
    }
  }
  return out;
}

/**
 * A send that completed made its child run (a lost enqueue shows here). The child's id is the
 * core's business, so it is found by its tag in the endpoint's records; when sent counter
 * increments are still stuck (already reported), as many missing children are taken to be those.
 */
function sendsDelivered({ ledger, views, records }: CheckInput): Violation[] {
  const stored = byId(views);
  const done = new Set(records.filter((r) => r.k === 'done').map((r) => r.tag));
  const missing = uniqueById(ledger.entries).filter((e) => e.kind === 'send' && stored.get(e.id!)?.result?.kind === 'value' && !done.has(`${e.tag}/send`));
  const accepted = ledger.acceptedIds();
  const stuckSends = views.filter((v) => v.service === 'chaosCounter' && v.method === 'add' && !v.caller && !accepted.has(v.id) && !isTerminal(v)).length;
  if (missing.length <= stuckSends) return [];
  return missing.map((e) => ({
    invariant: 'send-lost',
    id: e.id,
    tag: e.tag,
    detail: `the invocation completed after its one-way send, but the sent invocation (${e.tag}/send) never ran${stuckSends ? ` (${missing.length} such sends, only ${stuckSends} one-way increments stuck)` : ''}`,
  }));
}

function uniqueById(entries: LedgerEntry[]): LedgerEntry[] {
  const seen = new Set<string>();
  return entries.filter((e) => e.id !== undefined && !seen.has(e.id) && (seen.add(e.id), true));
}

function tagOf(ledger: Ledger, id: string): string | undefined {
  return ledger.entries.find((e) => e.id === id)?.tag;
}

function idOf(ledger: Ledger, tag: string): string | undefined {
  return ledger.entries.find((e) => e.tag === tag && e.id)?.id;
}

function describe(outcome: CallOutcome | undefined): string {
  if (!outcome) return 'no answer';
  return outcome.kind === 'answer' ? `HTTP ${outcome.status}` : `${outcome.reason}: ${outcome.message}`;
}
