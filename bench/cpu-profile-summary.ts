/**
 * Splits the busy time of a V8 CPU profile (`--cpu-prof`, as bench/vs-restate.ts and
 * bench/critical-path.ts write them) by the part of the runtime it was spent for. Each sample goes
 * to the innermost frame on its stack that belongs to a known part, so a socket write the lean
 * DynamoDB client makes counts as the client's, and Node's HTTP/2 code counts as the endpoint
 * client's. Samples with no such frame are "other" (event loop, streams, promises), and the
 * garbage collector and native code without a JavaScript caller are shown apart.
 *
 *   npx tsx bench/cpu-profile-summary.ts PROFILE [--calls N] [--top 15]
 *
 * With --calls, shares are also given in ms per call (busy time / N). --top lists the heaviest
 * functions of "other" too.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { table } from './format.js';

interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Innermost match wins; the order only matters for a frame two patterns would both match. */
const PARTS: [string, RegExp][] = [
  ['DynamoDB client (signing, HTTP, socket writes)', /lib\/store\/dynamo\/|lib\/sigv4\.ts/],
  ['endpoint client (HTTP/2)', /lib\/endpoint\/h2c\.ts|node:internal\/http2\//],
  ['logging', /lib\/log\.ts|lib\/lambda-logs\.ts/],
  ['tracing', /lib\/tracing\/|@opentelemetry\//],
  ['protobuf / JSON conversion', /@bufbuild\//],
  ['service protocol codec', /lib\/protocol\//],
  ['middy', /@middy\//],
  ['API Gateway event emulation', /lib\/http\/|lib\/local\/http-front\.ts|lib\/local\/request-body\.ts/],
  ["Node's HTTP/1.1 server", /node:_http_|node:http$/],
  ['ingress (Connect, calls)', /lib\/ingress\//],
  ['driver and dispatcher', /lib\/driver\//],
  ['store (items, expressions)', /lib\/store\//],
  ['registry', /lib\/registry\//],
  ['AWS SDK', /@smithy\/|@aws-sdk\//],
];

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { calls: { type: 'string' }, top: { type: 'string', default: '0' } },
});
const file = positionals[0];
if (!file) {
  console.error('usage: npx tsx bench/cpu-profile-summary.ts PROFILE [--calls N] [--top 15]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);

const partOf = new Map<number, string>();
function part(id: number): string {
  const known = partOf.get(id);
  if (known !== undefined) return known;
  const { url, functionName } = byId.get(id)!.callFrame;
  const parent = parentOf.get(id);
  const found =
    functionName === '(garbage collector)' || functionName === '(program)'
      ? functionName
      : (PARTS.find(([, re]) => re.test(url))?.[0] ?? (parent === undefined ? 'other' : part(parent)));
  partOf.set(id, found);
  return found;
}

const totals = new Map<string, number>();
const others = new Map<string, number>();
let busyUs = 0;
profile.samples.forEach((id, i) => {
  const us = profile.timeDeltas[i] ?? 0;
  const frame = byId.get(id)!.callFrame;
  if (frame.functionName === '(idle)') return;
  busyUs += us;
  const name = part(id);
  totals.set(name, (totals.get(name) ?? 0) + us);
  if (name === 'other') {
    const key = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/.*node_modules\//, '')}`;
    others.set(key, (others.get(key) ?? 0) + us);
  }
});

const calls = args.calls === undefined ? undefined : Number(args.calls);
const rows = [...totals].sort((a, b) => b[1] - a[1]);
console.log(`busy ${(busyUs / 1000).toFixed(0)} ms${calls ? ` over ${calls} calls: ${(busyUs / 1000 / calls).toFixed(3)} ms per call` : ''}`);
console.log(
  table(
    ['part', 'share of busy time', ...(calls ? ['ms per call'] : [])],
    rows.map(([name, us]) => [name, `${((100 * us) / busyUs).toFixed(1)} %`, ...(calls ? [(us / 1000 / calls).toFixed(3)] : [])]),
  ),
);
const top = Number(args.top);
if (top > 0) {
  console.log('\nheaviest functions in "other":');
  for (const [key, us] of [...others].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${((100 * us) / busyUs).toFixed(1).padStart(5)} %  ${key}`);
}
