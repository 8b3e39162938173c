/** Durable timers end to end: long sleeps through the timer path, duplicate and stale deliveries, local re-arm after restart. */
import { describe, expect, it } from 'vitest';
import { HORIZON_MS, LocalKicker } from '../../lib/timers/local-kicker.js';
import { SWEEP_GRACE_MS } from '../../lib/timers/timer-handler.js';
import type { TimerEvent } from '../../lib/timers/timer-event.js';
import { silentLogger } from '../../lib/log.js';
import { InvocationStore } from '../../lib/store/invocation-store.js';
import { InvocationStatus } from '../../lib/store/invocation-item.js';
import { freshTable } from '../support/ddb.js';
import { eventually, inProcessRuntime, json, post } from '../support/runtime.js';
import { servicesEndpoint } from '../../examples/services.js';
import { testServicesEndpoint } from '../support/test-services.js';

describe('sleep longer than the inline threshold', () => {
  it('suspends, arms a timer, and resumes when it fires; duplicate and stale deliveries do nothing', async () => {
    const env = await inProcessRuntime(servicesEndpoint(), { inlineWaitMs: 100 });
    const started = Date.now();
    const res = await post(env.ingress, '/sleeper/sleep', { request: { millis: 600 } });
    expect(json(res)).toEqual({ response: 'slept 600' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(590);
    const id = res.headers['x-restate-id']!;
    const timer = env.timers.find((t) => t.id === id && t.kind === 'sleep');
    expect(timer).toBeDefined();
    expect(timer!.at).toBeGreaterThanOrEqual(started + 600);
    // Scheduler delivers at least once: the same timer again, and one of an older epoch.
    const before = await env.store.get(id);
    const transportCalls = env.transport.calls;
    expect(await env.timer({ kind: 'timer', invocationId: id, epoch: timer!.epoch, reason: 'sleep', dueMs: timer!.at })).toMatchObject({
      kind: 'skipped',
      reason: 'finished',
    });
    expect(await env.timer({ kind: 'timer', invocationId: id, epoch: 0, reason: 'sleep', dueMs: timer!.at })).toMatchObject({
      kind: 'skipped',
      reason: 'finished',
    });
    expect(env.transport.calls).toBe(transportCalls);
    expect((await env.store.get(id))?.epoch).toBe(before?.epoch);
  });

  it('a duplicate delivery while suspended drives it at most once (the epoch moves on)', async () => {
    const env = await inProcessRuntime(servicesEndpoint(), { inlineWaitMs: 100 });
    const call = post(env.ingress, '/sleeper/sleep', { request: { millis: 500 } });
    const t = await eventually(async () => env.timers[0]);
    const rec = await eventually(async () => {
      const r = await env.store.get(t.id);
      return r?.status === 'suspended' ? r : undefined;
    });
    const [a, b] = await Promise.all([
      env.timer({ kind: 'timer', invocationId: t.id, epoch: t.epoch, reason: 'sleep', dueMs: t.at }),
      env.timer({ kind: 'timer', invocationId: t.id, epoch: t.epoch, reason: 'sleep', dueMs: t.at }),
    ]);
    // At most one of them took the invocation; the other was skipped or found a stale epoch.
    expect([a.kind, b.kind].filter((k) => k === 'suspended' || k === 'completed').length).toBeLessThanOrEqual(1);
    expect(json(await call)).toEqual({ response: 'slept 500' });
    expect((await env.store.get(t.id))!.epoch).toBeGreaterThan(rec.epoch);
  });
});

describe('LocalKicker', () => {
  it('stores nothing of its own and re-arms from the due index after a restart', async () => {
    const tables = await freshTable('timers');
    const store = new InvocationStore(tables);
    const fired: TimerEvent[] = [];
    const first = new LocalKicker(store, async () => undefined, silentLogger);
    await store.accept(
      { id: 'inv_restart', service: 's', method: 'm', key: 'inv_restart', kind: 'unkeyed', input: new Uint8Array(), endpointId: 'ep', retentionSec: 60 },
      { kind: 'delayed', until: Date.now() + 300 },
    );
    await first.schedule('inv_restart', Date.now() + 300, { epoch: 0, kind: 'sleep' });
    first.stop(); // the process dies before the timer fires
    const second = new LocalKicker(store, async (e) => void fired.push(e), silentLogger);
    expect(await second.restore()).toBe(1);
    await eventually(async () => (fired.length > 0 ? true : undefined));
    expect(fired[0]).toMatchObject({ kind: 'timer', invocationId: 'inv_restart' });
    second.stop();
  });

  it('re-arms a wake-up that fell due just before the restart, which the sweep leaves to timers', async () => {
    const store = new InvocationStore(await freshTable('timers'));
    const fired: TimerEvent[] = [];
    // Due 2 s ago: the process died (or was restarting) when it fell due.
    const dueAt = Date.now() - 2000;
    await store.accept(
      { id: 'inv_just_due', service: 's', method: 'm', key: 'inv_just_due', kind: 'unkeyed', input: new Uint8Array(), endpointId: 'ep', retentionSec: 60 },
      { kind: 'delayed', until: dueAt },
    );
    // The start-up sweep only takes what is overdue by more than its grace...
    expect(await store.dueInvocations(Date.now() - SWEEP_GRACE_MS)).not.toContain('inv_just_due');
    // ...so the restore must arm it, or it would wait for the next sweep (a minute).
    const kicker = new LocalKicker(store, async (e) => void fired.push(e), silentLogger);
    expect(await kicker.restore()).toBe(1);
    await eventually(async () => (fired.length > 0 ? true : undefined));
    expect(fired[0]).toMatchObject({ kind: 'timer', invocationId: 'inv_just_due', dueMs: dueAt });
    kicker.stop();
  });

  it('holds no timer for a wake-up beyond its horizon, and arms it from the index once it comes within', async () => {
    const store = new InvocationStore(await freshTable('timers'));
    const fired: TimerEvent[] = [];
    const kicker = new LocalKicker(store, async (e) => void fired.push(e), silentLogger);
    const cpuBefore = process.cpuUsage();
    const far = Date.now() + 1e12;
    await store.accept(
      { id: 'inv_far', service: 's', method: 'm', key: 'inv_far', kind: 'unkeyed', input: new Uint8Array(), endpointId: 'ep', retentionSec: 60 },
      { kind: 'delayed', until: far },
    );
    await kicker.schedule('inv_far', far, { epoch: 0, kind: 'sleep' });
    await kicker.schedule('inv_near', Date.now() + 60_000, { epoch: 1, kind: 'sleep' });
    await new Promise((r) => setTimeout(r, 300));
    expect(fired).toEqual([]);
    expect(kicker.armed).toBe(1); // the near one only
    // A timer that overflowed would fire at once and re-arm in a loop, burning a core.
    const cpu = process.cpuUsage(cpuBefore);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(200);
    // Nothing within the horizon now; a day before the wake-up, the periodic restore arms it.
    expect(await kicker.restore()).toBe(0);
    expect(await kicker.restore(far - HORIZON_MS + 1000)).toBe(1);
    expect(kicker.armed).toBe(2);
    kicker.stop();
  });
});

describe('attempt deadlines', () => {
  it('arms a durable deadline timer at the lease end for an attempt that runs long, and the timer is a no-op once the attempt moved on', async () => {
    const env = await inProcessRuntime(testServicesEndpoint(), { deadlineArmAfterMs: 100 });
    const res = await post(env.ingress, '/effects/slow', { request: { ms: 400 } });
    expect(json(res)).toEqual({ response: 'finished' });
    const id = res.headers['x-restate-id']!;
    const deadline = env.timers.find((t) => t.id === id && t.kind === 'deadline');
    expect(deadline).toBeDefined();
    expect(deadline!.at).toBeGreaterThan(Date.now() + 60_000); // the lease end: inactivity + abort timeout ahead
    // Delivered as if its time had come (a delivery well before it would only be re-armed).
    expect(await env.timer({ kind: 'timer', invocationId: id, epoch: deadline!.epoch, reason: 'deadline', dueMs: Date.now() })).toMatchObject({
      kind: 'skipped',
    });
  });

  it('arms none for a quick attempt', async () => {
    const env = await inProcessRuntime(testServicesEndpoint(), { deadlineArmAfterMs: 1_000 });
    const res = await post(env.ingress, '/chainC/c', { request: { v: 'q' } });
    expect(res.status).toBe(200);
    expect(env.timers.filter((t) => t.kind === 'deadline')).toEqual([]);
  });
});

describe('a lease whose process died', () => {
  it('re-arms a timer that finds the invocation still leased at the lease end, where it drives it (not a sweep a minute later)', async () => {
    const env = await inProcessRuntime(servicesEndpoint());
    // Accepted and taken by a process that died at once: leased for 1.5 s, and nobody runs it.
    const rec = await env.store.accept(
      {
        id: 'inv_dead_lease',
        service: 'greeter',
        method: 'greet',
        key: 'inv_dead_lease',
        kind: 'unkeyed',
        input: new Uint8Array(),
        endpointId: 'ep-test',
        retentionSec: 60,
      },
      { kind: 'take', leaseMs: 1500 },
    );

    // A timer from the due index, which may point before the lease end (a continuation keeps its
    // entry); after a restart, the local restore arms such timers.
    const outcome = await env.timer({ kind: 'timer', invocationId: rec.id, epoch: -1, reason: 'sleep', dueMs: Date.now() - 100 });

    expect(outcome).toMatchObject({ kind: 'skipped', leasedUntil: rec.leaseUntil });
    expect(env.timers).toContainEqual({ id: rec.id, at: rec.leaseUntil, epoch: -1, kind: 'deadline' });
    const done = await eventually(async () => {
      const r = await env.store.get(rec.id);
      return r?.status === InvocationStatus.Completed ? r : undefined;
    }, 5000);
    expect(done.modifiedAt).toBeGreaterThanOrEqual(rec.leaseUntil);
  });

  it('drives an invocation whose timer comes a few milliseconds before the lease end (setTimeout runs ahead of Date.now())', async () => {
    const env = await inProcessRuntime(servicesEndpoint());
    const rec = await env.store.accept(
      {
        id: 'inv_lease_edge',
        service: 'greeter',
        method: 'greet',
        key: 'inv_lease_edge',
        kind: 'unkeyed',
        input: new Uint8Array(),
        endpointId: 'ep-test',
        retentionSec: 60,
      },
      { kind: 'take', leaseMs: 400 },
    );
    await new Promise((r) => setTimeout(r, Math.max(0, rec.leaseUntil - Date.now() - 30)));
    const outcome = await env.timer({ kind: 'timer', invocationId: rec.id, epoch: rec.epoch, reason: 'deadline', dueMs: rec.leaseUntil });
    expect(outcome.kind).not.toBe('skipped');
    expect((await env.store.get(rec.id))?.status).toBe(InvocationStatus.Completed);
    // Nothing re-armed: the timer did its work.
    expect(env.timers.filter((t) => t.id === rec.id)).toEqual([]);
  });
});
