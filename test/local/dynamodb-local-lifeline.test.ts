/**
 * DynamoDB Local dies with the process that started it, however that process ends: a runner
 * killed with SIGKILL (or crashed) must not leave a JVM behind holding memory and the data folder.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const FIXTURE = join(import.meta.dirname, '..', 'support', 'fixtures', 'hold-dynamodb-local.ts');

/** Running, as opposed to gone or a zombie waiting for whoever adopted it to reap it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe('DynamoDB Local lifeline', () => {
  it('stops the JVM when the process that started it is killed with SIGKILL', async () => {
    const holder = spawn(process.execPath, ['--import', 'tsx', FIXTURE], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      holder.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const line = /^(\d+)\n/m.exec(out);
        if (line) resolve(Number(line[1]));
      });
      holder.once('exit', (code) => reject(new Error(`the holder exited (${code}) before DynamoDB Local was up`)));
    });
    try {
      expect(alive(pid)).toBe(true);
      holder.kill('SIGKILL');
      expect(await until(() => !alive(pid), 10_000)).toBe(true);
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
    }
  }, 60_000);
});
