import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2]!, 'utf8'));
const byId = new Map<number, any>(); for (const n of p.nodes) byId.set(n.id, n);
const self = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const incl = new Map<string, number>(); let total = 0;
for (const v of self.values()) total += v;
const idle = [...self].filter(([id]) => byId.get(id).callFrame.functionName === '(idle)').reduce((a, [, v]) => a + v, 0);
function walk(id: number, stack: Set<string>): number { const n = byId.get(id); let t = self.get(id) ?? 0; const cf = n.callFrame; const k = `${cf.functionName || 'anon'} ${cf.url.replace(/.*node_modules\//, '').replace(/.*\/work\/main\//, '')}:${cf.lineNumber}`;
  for (const c of n.children ?? []) t += walk(c, stack.has(k) ? stack : new Set([...stack, k]));
  if (!stack.has(k)) incl.set(k, (incl.get(k) ?? 0) + t); return t; }
walk(p.nodes[0].id, new Set());
const busy = total - idle; console.log('busy ms', (busy / 1000).toFixed(0));
const re = new RegExp(process.argv[3] ?? '.');
for (const [k, v] of [...incl].filter(([k]) => re.test(k)).sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log((100 * v / busy).toFixed(1).padStart(5), '%', k);
