/**
 * What an operator watches: metrics drawn from the functions' JSON log lines (metric filters, so
 * the runtime needs no metrics client and no extra request), alarms on every way a wake-up can be
 * lost or delayed, and one dashboard.
 *
 * | metric (namespace `Restless`) | log line (`msg`) | value |
 * |---|---|---|
 * | Invocations | `invocation accepted` | 1 |
 * | Completions | `invocation completed`, `invocation completed (output from the journal)` | 1 |
 * | Failures | `invocation completed` with `outcome: "failure"`, `invocation failed: retries exhausted` | 1 |
 * | Retries | `attempt failed` (each is retried unless the policy is exhausted) | 1 |
 * | Suspensions | `invocation suspended` | 1 |
 * | TimerLag | `timer delivered` | `lagMs`: how long after its due time a wake-up ran |
 */
import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Dashboard, GraphWidget, Metric, TreatMissingData, Unit, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { FilterPattern, MetricFilter, type ILogGroup, type IFilterPattern, type JsonPattern } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export const METRIC_NAMESPACE = 'Restless';

/** Metric name → the log lines it counts (and the field it sums, if not 1 per line). */
export const LOG_METRICS: Record<string, { patterns: IFilterPattern[]; value?: string; unit?: Unit }> = {
  Invocations: { patterns: [msg('invocation accepted')] },
  Completions: { patterns: [msg('invocation completed'), msg('invocation completed (output from the journal)')] },
  Failures: {
    patterns: [
      FilterPattern.all(msg('invocation completed'), FilterPattern.stringValue('$.outcome', '=', 'failure')),
      msg('invocation failed: retries exhausted'),
    ],
  },
  Retries: { patterns: [msg('attempt failed')] },
  Suspensions: { patterns: [msg('invocation suspended')] },
  TimerLag: { patterns: [msg('timer delivered')], value: '$.lagMs', unit: Unit.MILLISECONDS },
};

function msg(text: string): JsonPattern {
  return FilterPattern.stringValue('$.msg', '=', text);
}

export interface MonitoringProps {
  functions: Record<'ingress' | 'admin' | 'timer', { fn: IFunction; logGroup: ILogGroup }>;
  timerQueue: Queue;
  deadLetterQueue: Queue;
  api: HttpApi;
  /** Alarms notify this topic. @default - none: alarms show in CloudWatch only */
  alarmTopic?: ITopic;
}

export class RestlessMonitoring extends Construct {
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;
  /** The log-derived metrics by name (see LOG_METRICS). */
  readonly metrics: Record<string, Metric>;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { functions } = props;

    this.metrics = {};
    for (const [name, spec] of Object.entries(LOG_METRICS)) {
      // One filter per log group and pattern, all into one metric: CloudWatch adds them up.
      for (const [role, { logGroup }] of Object.entries(functions)) {
        spec.patterns.forEach((pattern, i) => {
          new MetricFilter(this, `${name}${capitalise(role)}${i}`, {
            logGroup,
            filterPattern: pattern,
            metricNamespace: METRIC_NAMESPACE,
            metricName: name,
            metricValue: spec.value ?? '1',
            unit: spec.unit,
          });
        });
      }
      this.metrics[name] = new Metric({ namespace: METRIC_NAMESPACE, metricName: name, statistic: spec.value ? 'p99' : 'Sum', period: Duration.minutes(1) });
    }

    // --- alarms: anything here means a wake-up was lost, dropped, or may come late ---------------
    const alarm = (id: string, description: string, metric: IMetric) => {
      const a = new Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      if (props.alarmTopic) a.addAlarmAction(new SnsAction(props.alarmTopic));
      this.alarms.push(a);
      return a;
    };
    alarm(
      'DeadLettersAlarm',
      'Restless: timer events, schedules or sweeps ended in the dead-letter queue (the sweep still re-drives the invocations from the table; inspect and delete or move the messages)',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
    );
    alarm(
      'TimerErrorsAlarm',
      'Restless: the timer function failed (an invocation error or a timeout)',
      functions.timer.fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
    );
    for (const [role, { fn }] of Object.entries(functions)) {
      alarm(
        `${capitalise(role)}ThrottlesAlarm`,
        `Restless: the ${role} function was throttled (concurrency limit)`,
        fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
      );
      alarm(
        `${capitalise(role)}RecursionAlarm`,
        `Restless: Lambda stopped a recursive loop through the ${role} function; kicks and wake-ups were dropped (recursiveLoop must be Allow on the timer function)`,
        fn.metric('RecursiveInvocationsDropped', { period: Duration.minutes(5), statistic: 'Sum' }),
      );
    }

    // --- dashboard ----------------------------------------------------------------------------------
    const m = this.metrics;
    const fnMetric = (f: (fn: IFunction) => IMetric) => Object.values(functions).map(({ fn }) => f(fn));
    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'Invocations', left: [m['Invocations']!, m['Completions']!], width: 8 }),
      new GraphWidget({ title: 'Failures and retries', left: [m['Failures']!, m['Retries']!], width: 8 }),
      new GraphWidget({ title: 'Suspensions', left: [m['Suspensions']!], width: 8 }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Timer lag (ms after due)',
        left: ['p50', 'p99', 'Maximum'].map((statistic) => m['TimerLag']!.with({ statistic, label: `lag ${statistic}` })),
        width: 8,
      }),
      new GraphWidget({
        title: 'Timer queue',
        left: [
          props.timerQueue.metricApproximateNumberOfMessagesVisible({ label: 'ready' }),
          props.timerQueue.metricApproximateNumberOfMessagesDelayed({ label: 'delayed' }),
          props.timerQueue.metricApproximateNumberOfMessagesNotVisible({ label: 'in flight' }),
        ],
        right: [props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: 'dead letters' })],
        width: 8,
      }),
      new GraphWidget({
        title: 'API',
        left: [props.api.metricCount({ label: 'requests' }), props.api.metricClientError({ label: '4xx' }), props.api.metricServerError({ label: '5xx' })],
        right: [props.api.metricLatency({ label: 'latency p99', statistic: 'p99' })],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'Function errors', left: fnMetric((fn) => fn.metricErrors({ label: fnLabel(functions, fn, 'errors') })), width: 8 }),
      new GraphWidget({ title: 'Function throttles', left: fnMetric((fn) => fn.metricThrottles({ label: fnLabel(functions, fn, 'throttles') })), width: 8 }),
      new GraphWidget({
        title: 'Concurrent executions',
        left: fnMetric((fn) => fn.metric('ConcurrentExecutions', { statistic: 'Maximum', label: fnLabel(functions, fn, 'concurrency') })),
        width: 8,
      }),
    );
  }
}

function fnLabel(functions: MonitoringProps['functions'], fn: IFunction, what: string): string {
  const role = Object.entries(functions).find(([, v]) => v.fn === fn)?.[0] ?? '?';
  return `${role} ${what}`;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
