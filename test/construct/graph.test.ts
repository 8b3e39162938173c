/**
 * What CloudFormation would refuse at deploy time and synth does not check: a dependency cycle
 * (e.g. a function whose environment or policy names its own ARN). No AWS account here, so check
 * the graph of Ref / Fn::GetAtt / DependsOn ourselves.
 */
import { describe, expect, it } from 'vitest';
import { synth } from './support.js';
import type { Resource } from './support.js';

function references(value: unknown, out: Set<string>): Set<string> {
  if (Array.isArray(value)) for (const v of value) references(v, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Ref' && typeof v === 'string') out.add(v);
      else if (k === 'Fn::GetAtt' && Array.isArray(v)) out.add(String(v[0]));
      else if (k === 'Fn::Sub' && typeof v === 'string') for (const m of v.matchAll(/\$\{([A-Za-z0-9]+)(\.[^}]*)?\}/g)) out.add(m[1]!);
      else references(v, out);
    }
  }
  return out;
}

function findCycle(resources: Record<string, Resource>): string[] | undefined {
  const edges = new Map<string, string[]>();
  for (const [id, r] of Object.entries(resources)) {
    const deps = references(r.Properties ?? {}, new Set());
    for (const d of [r.DependsOn ?? []].flat()) deps.add(d);
    edges.set(
      id,
      [...deps].filter((d) => d in resources),
    );
  }
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'open') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'open');
    path.push(id);
    for (const next of edges.get(id) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of edges.keys()) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return undefined;
}

describe('Restless template graph', () => {
  it('has no dependency cycle', () => {
    const resources = synth({ endpointFunctionArns: ['arn:aws:lambda:eu-west-1:123456789012:function:greeter'] }).toJSON()['Resources'] as Record<
      string,
      Resource
    >;
    expect(findCycle(resources)).toBeUndefined();
  });

  it('detects a cycle when there is one (self-check)', () => {
    expect(findCycle({ A: { Type: 'X', Properties: { p: { Ref: 'B' } } }, B: { Type: 'X', DependsOn: ['A'] } })).toEqual(['A', 'B', 'A']);
  });
});
