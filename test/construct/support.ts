/** Builds the Restless stack for template assertions: bundling skipped, stand-in entries. */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { RestlessStack } from '../../lib/construct/stack.js';
import type { RestlessProps } from '../../lib/construct/restless.js';

// A synth is CPU-bound (1–3 s, the first in a file more while aws-cdk-lib loads); on a loaded
// 2-core machine the default 30 s per test is not always enough.
vi.setConfig({ testTimeout: 120_000 });

/**
 * One stand-in handler for all three functions, so these tests do not depend on `functions/*.ts`
 * (whose bundling `npm run synth` covers). It must live under the package root: NodejsFunction
 * refuses entries outside `projectRoot` even when bundling is skipped.
 */
export const STUB_ENTRY = fileURLToPath(new URL('./fixtures/handler.ts', import.meta.url));
const STUB_ENTRIES = { ingress: STUB_ENTRY, admin: STUB_ENTRY, timer: STUB_ENTRY };

export function synthStack(props: RestlessProps = {}): RestlessStack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new RestlessStack(app, 'Restless', { restless: { entries: STUB_ENTRIES, ...props } });
}

export function synth(props: RestlessProps = {}): Template {
  return Template.fromStack(synthStack(props));
}

export type Resource = { Type: string; Properties?: Record<string, unknown>; DependsOn?: string | string[] };

/** Logical id of the function whose description is `Restless {role}`. */
export function functionId(template: Template, role: 'ingress' | 'admin' | 'timer'): string {
  const found = Object.keys(template.findResources('AWS::Lambda::Function', { Properties: { Description: `Restless ${role}` } }));
  if (found.length !== 1) throw new Error(`expected one ${role} function, found ${found.length}`);
  return found[0]!;
}

/** The inline policy statements attached to the given role (by its logical id). */
export function statementsOfRole(template: Template, roleId: string): Statement[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
  return policies
    .filter((p) => JSON.stringify(p.Properties?.['Roles']) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((p) => (p.Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement);
}

/** The role logical id a function runs as. */
export function roleOfFunction(template: Template, fnId: string): string {
  const fn = template.toJSON()['Resources'][fnId] as Resource;
  const role = fn.Properties?.['Role'] as { 'Fn::GetAtt': [string, string] };
  return role['Fn::GetAtt'][0];
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export function actionsOf(s: Statement): string[] {
  return Array.isArray(s.Action) ? s.Action : [s.Action];
}

export function resourcesOf(s: Statement): unknown[] {
  return Array.isArray(s.Resource) ? s.Resource : [s.Resource];
}
