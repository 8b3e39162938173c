/**
 * The CDK app: one `Restless` stack, configured through context (see lib/construct/context.ts),
 * e.g. `npx cdk deploy -c restless:endpointFunctionArns=arn:aws:lambda:…:function:greeter`.
 * Environment-agnostic: `cdk deploy` takes account and region from the caller's credentials, and
 * `cdk synth` needs none.
 */
import { App } from 'aws-cdk-lib';
import { propsFromContext } from '../lib/construct/context.js';
import { RestlessStack } from '../lib/construct/stack.js';

const app = new App();
new RestlessStack(app, 'Restless', { restless: propsFromContext(app.node) });
app.synth();
