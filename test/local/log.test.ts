/**
 * The default log sink writes once per turn of the event loop: nothing may be lost when the
 * process exits right after logging, throws, or simply ends, and lines stay whole and in order.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import middy from '@middy/core';
import { createLogger } from '../../lib/log.js';
import { flushLogsAfterEachInvocation } from '../../lib/lambda-logs.js';

const FIXTURE = join(import.meta.dirname, '..', 'support', 'fixtures', 'log-then-exit.ts');

function run(count: number, end: 'exit' | 'throw' | 'return'): { lines: { i: number; msg: string; level: string }[]; status: number | null } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE, String(count), end], {
    encoding: 'utf8',
    env: { ...process.env, RESTLESS_LOG_LEVEL: 'info' },
  });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { i: number; msg: string; level: string });
  return { lines, status: r.status };
}

describe('the default log sink', () => {
  it.each(['exit', 'throw', 'return'] as const)('writes every line, whole and in order, when the process ends by %s right after logging', (end) => {
    const { lines, status } = run(2_000, end);
    expect(status).toBe(end === 'throw' ? 1 : 0);
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 2_000 }, (_, i) => i));
    expect(lines.every((l) => l.msg === 'line' && l.level === 'info')).toBe(true);
  });
});

describe('the default log sink, stdout a pipe its reader drains slowly', () => {
  // The pipe fills (64 KiB) before the reader starts: a write on exit is partial, or refused (EAGAIN).
  it.each(['exit', 'throw'] as const)('still writes every line, whole and in order, when the process ends by %s', (end) => {
    const r = spawnSync('sh', ['-c', `"${process.execPath}" --import tsx "${FIXTURE}" 2000 ${end} 2>/dev/null | (sleep 0.5; cat)`], {
      encoding: 'utf8',
      env: { ...process.env, RESTLESS_LOG_LEVEL: 'info' },
    });
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(2_000);
    expect(lines.map((l) => (JSON.parse(l) as { i: number }).i)).toEqual(Array.from({ length: 2_000 }, (_, i) => i));
  });
});

describe('the default log sink under fake timers', () => {
  it('keeps writing after a test logged under fake timers and switched back to real ones', async () => {
    const writes: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (writes.push(String(chunk)), true));
    try {
      vi.useFakeTimers();
      createLogger({ level: 'info' }).log('info', 'under fake timers');
      vi.useRealTimers();
      createLogger({ level: 'info' }).log('info', 'after');
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      vi.useRealTimers();
      write.mockRestore();
    }
    expect(writes.join('')).toContain('"msg":"under fake timers"');
    expect(writes.join('')).toContain('"msg":"after"');
  });
});

describe('log lines', () => {
  it('render errors and bytes in fields (also nested and in child fields) and leave plain fields as they are', () => {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ level: 'info', sink: (l) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    log.log('info', 'plain', { n: 1, s: 'x', b: true, nil: null });
    log.log('warn', 'failed', { error: new TypeError('bad'), body: new Uint8Array(3), nested: { inner: new Error('deep') } });
    log.child({ cause: new Error('base') }).log('error', 'child', { k: 'v' });
    log.log('debug', 'dropped');
    expect(lines).toMatchObject([
      { level: 'info', msg: 'plain', n: 1, s: 'x', b: true, nil: null },
      { level: 'warn', msg: 'failed', error: { name: 'TypeError', message: 'bad' }, body: '<3 bytes>', nested: { inner: { name: 'Error', message: 'deep' } } },
      { level: 'error', msg: 'child', cause: { name: 'Error', message: 'base' }, k: 'v' },
    ]);
    expect(lines).toHaveLength(3);
  });
});

describe('the Lambda functions', () => {
  it.each([
    ['answers', false],
    ['fails', true],
  ])('write the lines of an invocation before it returns, when the handler %s (a frozen sandbox would hold them)', async (_name, fails) => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const log = createLogger({ level: 'info' });
      const handler = middy()
        .use(flushLogsAfterEachInvocation())
        .handler(async () => {
          log.log('info', 'inside the invocation', { n: 1 });
          if (fails) throw new Error('handler failed');
          return 'ok';
        });
      const outcome = await handler({}, {} as never).then(
        (v) => v,
        (err: Error) => err.message,
      );
      // Checked before any later turn of the event loop could have flushed them.
      const lines = written
        .join('')
        .split('\n')
        .filter((l) => l.includes('inside the invocation'));
      expect(outcome).toBe(fails ? 'handler failed' : 'ok');
      expect(lines).toHaveLength(1);
    } finally {
      spy.mockRestore();
    }
  });
});
