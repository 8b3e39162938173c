/** The stack `bin/app.ts` deploys: one Restless construct and its outputs. */
import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Restless } from './restless.js';
import type { RestlessProps } from './restless.js';

export interface RestlessStackProps extends StackProps {
  readonly restless?: RestlessProps;
}

export class RestlessStack extends Stack {
  readonly restless: Restless;

  constructor(scope: Construct, id: string, props: RestlessStackProps = {}) {
    super(scope, id, { description: 'Restless: durable service invocation on API Gateway, Lambda, DynamoDB and EventBridge Scheduler', ...props });
    this.restless = new Restless(this, 'Restless', props.restless);
    new CfnOutput(this, 'ApiUrl', { description: 'Ingress and (IAM-signed) admin base URL', value: this.restless.apiUrl });
    new CfnOutput(this, 'TableName', { description: 'DynamoDB table', value: this.restless.table.tableName });
    new CfnOutput(this, 'TimerFunctionName', { description: 'Timer Lambda (scheduled and kicked)', value: this.restless.timerFunction.functionName });
    new CfnOutput(this, 'ScheduleGroupName', { description: 'EventBridge Scheduler group for one-shot timers', value: this.restless.scheduleGroup.scheduleGroupName });
  }
}
