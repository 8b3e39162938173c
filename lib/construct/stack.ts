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
    super(scope, id, { description: 'Restless: durable service invocation on API Gateway, Lambda, DynamoDB, SQS and EventBridge Scheduler', ...props });
    const r = (this.restless = new Restless(this, 'Restless', props.restless));
    new CfnOutput(this, 'ApiUrl', { description: 'Ingress and (IAM-signed) admin base URL', value: r.apiUrl });
    new CfnOutput(this, 'TableName', { description: 'DynamoDB table', value: r.table.tableName });
    new CfnOutput(this, 'TimerFunctionName', { description: 'Timer Lambda (queue consumer and sweep)', value: r.timerFunction.functionName });
    new CfnOutput(this, 'TimerQueueUrl', { description: 'SQS queue of kicks and wake-ups within 15 minutes', value: r.timerQueue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { description: 'Undeliverable timer events, schedules and sweeps (alarmed)', value: r.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'ScheduleGroupName', {
      description: 'EventBridge Scheduler group for wake-ups beyond 15 minutes',
      value: r.scheduleGroup.scheduleGroupName,
    });
    new CfnOutput(this, 'DashboardName', { description: 'CloudWatch dashboard', value: r.monitoring.dashboard.dashboardName });
    // A Lambda endpoint in another account allows these roles in its resource policy.
    new CfnOutput(this, 'IngressRoleArn', { description: 'Role of the ingress function (calls endpoints)', value: r.ingressFunction.role!.roleArn });
    new CfnOutput(this, 'AdminRoleArn', { description: 'Role of the admin function (discovers endpoints)', value: r.adminFunction.role!.roleArn });
    new CfnOutput(this, 'TimerRoleArn', { description: 'Role of the timer function (calls endpoints)', value: r.timerFunction.role!.roleArn });
  }
}
