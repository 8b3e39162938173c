/**
 * Section 3: the three Lambda bundles, built with esbuild as the CDK construct builds them
 * (lib/construct/restless.ts, `FUNCTION_BUNDLING`; NodejsFunction passes these as esbuild CLI flags), their
 * minified size, and module init time: `await import(bundle)` in a fresh `node`, as a cold
 * Lambda does before the first event.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { median } from './format.js';

export const ROLES = ['ingress', 'admin', 'timer'] as const;
export type Role = (typeof ROLES)[number];

/** The construct's `bundling` block, as esbuild options (keep in step with FUNCTION_BUNDLING in lib/construct/bundling.ts). */
export const CONSTRUCT_BUNDLING = {
  bundle: true,
  format: 'esm',
  target: 'node22',
  platform: 'node',
  mainFields: ['module', 'main'],
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  external: ['@aws-sdk/*'],
  banner: { js: "import { createRequire as __restlessCreateRequire } from 'node:module'; const require = __restlessCreateRequire(import.meta.url);" },
  loader: { '.binpb': 'binary' },
} as const satisfies BuildOptions;

/**
 * Checks that the construct still says what CONSTRUCT_BUNDLING assumes; returns what differs.
 * A textual check: enough to notice an edit, not a parser.
 */
export function bundlingDrift(root: string): string[] {
  const src = readFileSync(join(root, 'lib/construct/bundling.ts'), 'utf8');
  const expect: [string, RegExp][] = [
    ['format ESM', /format:\s*OutputFormat\.ESM/],
    ["target 'node22'", /target:\s*'node22'/],
    ["platform 'node'", /platform:\s*'node'/],
    ['mainFields module,main', /mainFields:\s*\['module',\s*'main'\]/],
    ['minify', /minify:\s*true/],
    ['sourceMap', /sourceMap:\s*true/],
    ['sourcesContent false', /sourcesContent:\s*false/],
    ["externalModules ['@aws-sdk/*']", /externalModules:\s*\['@aws-sdk\/\*'\]/],
    [
      'banner (createRequire)',
      /banner:\s*"import \{ createRequire as __restlessCreateRequire \} from 'node:module'; const require = __restlessCreateRequire\(import\.meta\.url\);"/,
    ],
    [".binpb loader 'binary'", /loader:\s*\{\s*'\.binpb':\s*'binary'\s*\}/],
  ];
  return expect.filter(([, re]) => !re.test(src)).map(([what]) => what);
}

export interface BundleResult {
  role: Role;
  bytes: number;
  gzipBytes: number;
  mapBytes: number;
  /** Largest contributors to the output: package or folder → bytes. */
  top: [string, number][];
  initMs: number[];
  wallMs: number[];
  initError?: string;
}

/** Dummy configuration: enough for module-scope code (sharedRuntime with AWS timers) to run. */
export const LAMBDA_ENV = {
  RESTLESS_TABLE_NAME: 'restless-bench',
  AWS_REGION: 'us-east-1',
  RESTLESS_TIMER_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/restless-timers',
  RESTLESS_TIMER_QUEUE_ARN: 'arn:aws:sqs:us-east-1:123456789012:restless-timers',
  RESTLESS_DEAD_LETTER_QUEUE_ARN: 'arn:aws:sqs:us-east-1:123456789012:restless-dead-letters',
  RESTLESS_SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/restless-scheduler',
  RESTLESS_SCHEDULER_GROUP: 'restless-bench',
  // Node 20 here; Lambda runs Node 22, where the AWS SDK prints no version warning.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

function contributor(path: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (m) return m[1]!;
  return path.split('/').slice(0, 2).join('/');
}

function topInputs(meta: Metafile, outfile: string, root: string): [string, number][] {
  const out = Object.entries(meta.outputs).find(([p]) => join(root, p) === outfile || p === relative(root, outfile));
  const sums = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(out?.[1].inputs ?? {})) {
    const k = contributor(path);
    sums.set(k, (sums.get(k) ?? 0) + bytesInOutput);
  }
  return [...sums].sort((a, b) => b[1] - a[1]).slice(0, 5);
}

/**
 * One `await import()` of each specifier, in a fresh node with only the Lambda-like environment
 * and `cwd` for resolving bare specifiers.
 */
function timeImport(specifiers: string[], cwd: string): { importMs: number; wallMs: number; error?: string } {
  const code =
    'const t = performance.now(); for (const s of process.argv.slice(1)) await import(s); process.stdout.write(JSON.stringify({ ms: performance.now() - t }));';
  const started = performance.now();
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', code, ...specifiers], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...LAMBDA_ENV },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const wallMs = performance.now() - started;
  if (res.status !== 0) return { importMs: NaN, wallMs, error: (res.stderr || res.stdout || String(res.error)).trim().split('\n').slice(0, 3).join(' | ') };
  try {
    return { importMs: (JSON.parse(res.stdout) as { ms: number }).ms, wallMs };
  } catch {
    return { importMs: NaN, wallMs, error: `unexpected output: ${res.stdout.slice(0, 200)}` };
  }
}

/** Something to time: the specifiers imported together, and where bare ones resolve from. */
interface ImportTarget {
  specifiers: string[];
  cwd: string;
}

interface Timings {
  initMs: number[];
  wallMs: number[];
  initError?: string;
}

/**
 * Times each target `runs` times, round-robin (a burst of other work on the machine then hits all
 * targets alike), after one untimed run each so every timed run finds the files in the page cache.
 */
function timeRoundRobin(targets: ImportTarget[], runs: number): Timings[] {
  const out: Timings[] = targets.map(() => ({ initMs: [], wallMs: [] }));
  for (let round = -1; round < runs; round++) {
    targets.forEach((t, i) => {
      const slot = out[i]!;
      if (slot.initError) return;
      const r = timeImport(t.specifiers, t.cwd);
      if (r.error) slot.initError = r.error;
      else if (round >= 0) {
        slot.initMs.push(r.importMs);
        slot.wallMs.push(r.wallMs);
      }
    });
  }
  return out;
}

/** The external packages a bundle imports (`from"@aws-sdk/…"` in the minified output). */
function externalImports(code: string): string[] {
  return [...new Set([...code.matchAll(/from\s*"(@aws-sdk\/[^"]+)"/g)].map((m) => m[1]!))].sort();
}

export interface SdkBaseline {
  packages: string[];
  initMs: number[];
  initError?: string;
}

/**
 * Builds the three bundles, then times their init and, as a baseline, the init of the external
 * @aws-sdk/* packages they import (the part a bundle cannot shrink).
 */
export async function measureBundles(root: string, outDir: string, runs: number): Promise<{ bundles: BundleResult[]; sdk: SdkBaseline }> {
  const built: Omit<BundleResult, 'initMs' | 'wallMs'>[] = [];
  const targets: ImportTarget[] = [];
  const externals = new Set<string>();
  for (const role of ROLES) {
    const dir = join(outDir, role);
    mkdirSync(dir, { recursive: true });
    // NodejsFunction writes index.mjs for ESM and runs esbuild from the project root.
    const outfile = join(dir, 'index.mjs');
    const result = await build({
      ...CONSTRUCT_BUNDLING,
      entryPoints: [join(root, 'functions', `${role}.ts`)],
      outfile,
      absWorkingDir: root,
      metafile: true,
      logLevel: 'warning',
    });
    const code = readFileSync(outfile);
    for (const e of externalImports(code.toString('utf8'))) externals.add(e);
    built.push({
      role,
      bytes: code.length,
      gzipBytes: gzipSync(code).length,
      mapBytes: statSync(`${outfile}.map`).size,
      top: topInputs(result.metafile, outfile, root),
    });
    targets.push({ specifiers: [pathToFileURL(outfile).href], cwd: dir });
  }
  const packages = [...externals].sort();
  targets.push({ specifiers: packages, cwd: join(root, 'bench') });
  const timings = timeRoundRobin(targets, runs);
  const sdk = timings[timings.length - 1]!;
  return {
    bundles: built.map((b, i) => ({ ...b, ...timings[i]! })),
    sdk: { packages, initMs: sdk.initMs, initError: sdk.initError },
  };
}

export function medianOf(values: number[]): number {
  return values.length ? median(values) : NaN;
}
