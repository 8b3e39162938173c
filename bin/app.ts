/**
 * The CDK app: one `Restless` stack, configured through context (see lib/construct/context.ts),
 * e.g. `npx cdk deploy -c restless:endpointFunctionArns=arn:aws:lambda:…:function:greeter`.
 * Environment-agnostic: `cdk deploy` takes account and region from the caller's credentials, and
 * `cdk synth` needs none.
 *
 * `-c restless:skipBundling=true` writes the template without bundling the functions (asset hashes
 * are then placeholders: for looking at the template, never for deploying). The CLI refuses
 * user context under `aws:`, so the app sets `aws:cdk:bundling-stacks` itself, after the CLI's.
 */
import { Annotations, App } from 'aws-cdk-lib';
import { CONTEXT_PREFIX, propsFromContext } from '../lib/construct/context.js';
import { RestlessStack } from '../lib/construct/stack.js';

// Reads the CLI's context only; never synthesized (autoSynth off, so it cannot write to cdk.out).
const cli = new App({ autoSynth: false });
const skipBundling = String(cli.node.tryGetContext(`${CONTEXT_PREFIX}skipBundling`)) === 'true';

const app = new App(skipBundling ? { postCliContext: { 'aws:cdk:bundling-stacks': [] } } : {});
const stack = new RestlessStack(app, 'Restless', { restless: propsFromContext(app.node) });
if (skipBundling) {
  Annotations.of(stack).addWarningV2(
    'restless:skipBundling',
    'Functions not bundled (restless:skipBundling): this template is for reading, not for deploying.',
  );
}
app.synth();
