import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2]!, 'utf8'));
const byId = new Map<number, any>(); for (const n of p.nodes) byId.set(n.id, n);
const self = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const agg = new Map<string, number>(); const pkg = new Map<string, number>();
for (const [id, t] of self) { const n = byId.get(id); const cf = n.callFrame; const k = `${cf.functionName || '(anon)'} ${cf.url.replace(/.*node_modules\//, '').replace('file:///work/main/', '')}:${cf.lineNumber}`; agg.set(k, (agg.get(k) ?? 0) + t);
  let g = cf.url.includes('node_modules/') ? cf.url.replace(/.*node_modules\//, '').split('/').slice(0, cf.url.includes('node_modules/@') ? 2 : 1).join('/') : cf.url.startsWith('node:') ? 'node:' + cf.url.slice(5).split('/')[0] : cf.url.includes('/work/main/') ? cf.url.replace(/.*\/work\/main\//, '').split('/').slice(0, 2).join('/') : (cf.functionName || cf.url || '?');
  pkg.set(g, (pkg.get(g) ?? 0) + t); }
console.log('total ms', (total / 1000).toFixed(0));
for (const [k, v] of [...pkg].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log((100 * v / total).toFixed(1).padStart(5), '%', k);
console.log('---');
for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] ?? 40))) console.log((100 * v / total).toFixed(1).padStart(5), '%', k);
