/**
 * The chaos suite's processes: the workload endpoint and the runners (bin/local.ts), each a
 * `node --import tsx` child in its own process group, so one signal reaches all of it and
 * nothing outlives the harness (every group is killed on exit, Ctrl-C included).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

const live = new Set<ManagedProcess>();
process.once('exit', () => {
  for (const p of live) p.kill();
});

/** Kills every process the harness started (for signal handlers and failures). */
export function killAll(): void {
  for (const p of live) p.kill();
}

/** A user's shell environment: nothing of vitest, no RESTLESS_* or endpoint overrides. */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('RESTLESS_') || k.startsWith('AWS_ENDPOINT_URL') || k === 'NODE_OPTIONS' || k.startsWith('VITEST') || k.startsWith('CHAOS_')) continue;
    env[k] = v;
  }
  return { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
}

export class ManagedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly lines: string[] = [];
  private readonly listeners = new Set<(line: string) => void>();
  private partial = '';
  /** Lines kept for diagnosis (the newest). */
  private readonly keepLines: number;
  frozen = false;

  constructor(
    readonly name: string,
    script: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    /** TypeScript runs through tsx; a built bundle (.mjs) runs as is. */
    opts: { keepLines?: number } = {},
  ) {
    this.keepLines = opts.keepLines ?? 20_000;
    const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : [];
    this.child = spawn(process.execPath, [...loader, '--no-warnings', script, ...args], {
      cwd: REPO_ROOT,
      env: cleanEnv(env),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(this);
    const onData = (d: Buffer) => {
      const text = this.partial + d.toString('utf8');
      const parts = text.split('\n');
      this.partial = parts.pop() ?? '';
      for (const line of parts) this.onLine(line);
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((res) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this);
        // The group may still hold children; nothing of it may outlive its leader.
        this.signalGroup('SIGKILL');
        res({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  onLineAdded(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  output(): string[] {
    return [...this.lines];
  }

  tail(n = 40): string {
    return this.lines.slice(-n).join('\n');
  }

  /** Resolves with the first line that `match` accepts; rejects when the process exits or time runs out. */
  waitForLine<T>(match: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((res, rej) => {
      const done = (fn: () => void) => {
        clearTimeout(timer);
        off();
        fn();
      };
      const off = this.onLineAdded((line) => {
        const m = match(line);
        if (m !== undefined) done(() => res(m));
      });
      const timer = setTimeout(() => done(() => rej(new Error(`${this.name} was not ready within ${timeoutMs} ms:\n${this.tail()}`))), timeoutMs);
      void this.exited.then((e) => done(() => rej(new Error(`${this.name} exited (code ${e.code}, signal ${e.signal}):\n${this.tail()}`))));
    });
  }

  signalGroup(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // already gone
    }
  }

  /** SIGSTOP / SIGCONT of the whole group: a frozen Lambda instance. */
  freeze(): void {
    this.signalGroup('SIGSTOP');
    this.frozen = true;
  }

  thaw(): void {
    this.signalGroup('SIGCONT');
    this.frozen = false;
  }

  /** SIGKILL of the group (a SIGCONT first, so a frozen process dies at once). */
  kill(): void {
    this.signalGroup('SIGKILL');
    if (this.frozen) this.thaw();
  }

  async killAndWait(): Promise<void> {
    this.kill();
    await this.exited;
  }

  private onLine(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.keepLines) this.lines.splice(0, this.lines.length - this.keepLines);
    for (const l of this.listeners) l(line);
  }
}

/** Parses a structured log line; undefined for anything else. */
export function jsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
