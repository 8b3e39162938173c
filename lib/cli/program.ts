/**
 * `npx restless …`: the operator's command line over the admin API, modelled on Restate's CLI
 * (`restate services|deployments|invocations …`). Human tables by default, `--json` for scripts;
 * exit codes from lib/errors.ts (ExitCode). Arguments are parsed by commander.
 */
import { Command, CommanderError, Option } from 'commander';
import { ExitCode } from '../errors.js';
import { AdminClient, AdminRequestError, AdminUnreachableError, CliUsageError, InvocationFailedError, type AwsSigning } from './admin-client.js';
import { startConsoleProxy } from './console-proxy.js';
import { regionOfApiUrl, type AwsCredentials } from '../sigv4.js';
import { fields, table } from './table.js';

/** Statuses of output/attach that refuse the request itself (bad id, private service, wrong method). */
const REFUSALS = new Set([400, 403, 405]);

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9070';
export const DEFAULT_INGRESS_URL = 'http://127.0.0.1:8080';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** The standard AWS credential chain (env, profile, SSO, container, instance metadata). */
  awsCredentials?: () => Promise<AwsCredentials>;
}

interface GlobalOptions {
  admin?: string;
  ingress?: string;
  aws?: boolean;
  region?: string;
  json?: boolean;
}

type Json = Record<string, unknown>;

/** Runs one command line; resolves with the exit code (never calls process.exit). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.Ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    if (err instanceof AdminRequestError || err instanceof AdminUnreachableError || err instanceof CliUsageError || err instanceof InvocationFailedError) {
      io.err(`error: ${err.message}`);
      return err.exitCode;
    }
    io.err(`error: ${(err as Error).message}`);
    return ExitCode.Failed;
  }
}

function buildProgram(io: CliIo): Command {
  const program = new Command('restless')
    .description('Operate Restless: services, deployments and invocations through the admin API')
    .option('--admin <url>', `admin API URL (env RESTLESS_ADMIN_URL; default ${DEFAULT_ADMIN_URL}, the local runner)`)
    .option('--ingress <url>', `ingress URL for output/attach (env RESTLESS_INGRESS_URL; default ${DEFAULT_INGRESS_URL}, or the admin URL on AWS)`)
    .option('--aws', 'sign requests with SigV4 (standard AWS credential chain); implied by an execute-api URL')
    .option('--region <region>', 'AWS region for signing (default: from the URL, else AWS_REGION)')
    .option('--json', 'print JSON instead of tables')
    .showHelpAfterError()
    // Set before the subcommands are added: they inherit both (no process.exit inside a command).
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .addHelpText('after', '\nExit codes: 0 ok, 1 failed, 2 usage, 3 unreachable, 4 not found, 5 refused, 6 not finished yet.');

  const ctx = () => context(program.opts<GlobalOptions>(), io);
  const print = (json: unknown, human: () => string) => io.out(program.opts<GlobalOptions>().json ? JSON.stringify(json, null, 2) : human());

  program
    .command('console')
    .description('serve the web console on 127.0.0.1, forwarding to the admin API (signed with SigV4 on AWS); Ctrl-C stops it')
    .option('--port <n>', 'local port (0 = any free port)', '9071')
    .action(async (o: { port: string }) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliUsageError(`invalid --port '${o.port}'`);
      const { adminUrl, aws } = target(program.opts<GlobalOptions>(), io);
      const proxy = await startConsoleProxy({ adminUrl, aws, port });
      io.out(`Console for ${adminUrl}: ${proxy.url}/ui`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await proxy.close();
    });

  // services -------------------------------------------------------------------------------------
  const services = program.command('services').alias('svc').description('registered services');
  services
    .command('ls')
    .alias('list')
    .description('list services')
    .action(async () => {
      const res = (await ctx().admin('GET', '/services')).json as { services: Json[] };
      print(res, () =>
        table(
          ['NAME', 'TYPE', 'PUBLIC', 'REVISION', 'METHODS', 'DEPLOYMENT'],
          res.services.map((s) => [
            s.name as string,
            s.instance_type as string,
            String(s.public),
            s.revision as number,
            (s.methods as unknown[]).length,
            s.endpoint_id as string,
          ]),
        ),
      );
    });
  services
    .command('describe <name>')
    .alias('get')
    .description('a service and its methods')
    .action(async (name: string) => {
      const s = (await ctx().admin('GET', `/services/${encodeURIComponent(name)}`)).json as Json;
      print(s, () =>
        [
          fields([
            ['Name', s.name as string],
            ['Type', s.instance_type as string],
            ['Public', String(s.public)],
            ['Revision', s.revision as number],
            ['Deployment', s.endpoint_id as string],
          ]),
          '',
          table(
            ['METHOD', 'INPUT', 'OUTPUT', 'KEY FIELD'],
            (s.methods as Json[]).map((m) => [m.name as string, m.input_type as string, m.output_type as string, m.key_field_number as number | undefined]),
          ),
        ].join('\n'),
      );
    });
  for (const visibility of ['public', 'private'] as const) {
    services
      .command(`${visibility} <name>`)
      .description(visibility === 'public' ? 'let the ingress call the service' : 'only other services may call it (the ingress answers 403)')
      .action(async (name: string) => {
        const s = (await ctx().admin('PATCH', `/services/${encodeURIComponent(name)}`, { body: { public: visibility === 'public' } })).json as Json;
        print(s, () => `${s.name as string} is now ${s.public ? 'public' : 'private'}`);
      });
  }

  // deployments ----------------------------------------------------------------------------------
  const deployments = program.command('deployments').alias('dp').description('registered endpoints (deployments)');
  deployments
    .command('ls')
    .alias('list')
    .description('list deployments')
    .action(async () => {
      const res = (await ctx().admin('GET', '/deployments')).json as { endpoints: Json[] };
      print(res, () =>
        table(
          ['ID', 'ADDRESS', 'SERVICES', 'PINNED', 'CREATED'],
          res.endpoints.map((e) => [
            e.id as string,
            (e.uri ?? e.arn) as string,
            (e.services as { name: string; revision: number; latest: boolean }[]).map((s) => `${s.name}@${s.revision}${s.latest ? '' : ' (old)'}`).join(', '),
            e.pinned_invocations as number | undefined,
            e.created_at as string,
          ]),
        ),
      );
    });
  deployments
    .command('register <uri-or-arn>')
    .alias('add')
    .description('register an endpoint: an http:// URI (h2c) or a Lambda ARN')
    .option('--force', 'replace a deployment at the same address; allow incompatible changes')
    .option('--dry-run', 'discover and validate only')
    .option('--assume-role-arn <arn>', 'role to assume to invoke a Lambda endpoint')
    .option('-H, --header <name:value...>', 'extra header sent to the endpoint')
    .action(async (address: string, o: { force?: boolean; dryRun?: boolean; assumeRoleArn?: string; header?: string[] }) => {
      const headers = Object.fromEntries((o.header ?? []).map((h) => [h.slice(0, h.indexOf(':')).trim(), h.slice(h.indexOf(':') + 1).trim()]));
      const body = {
        ...(address.startsWith('arn:') ? { arn: address } : { uri: address }),
        ...(o.assumeRoleArn ? { assume_role_arn: o.assumeRoleArn } : {}),
        ...(Object.keys(headers).length ? { additional_headers: headers } : {}),
        ...(o.force ? { force: true } : {}),
        ...(o.dryRun ? { dry_run: true } : {}),
      };
      const res = (await ctx().admin('POST', '/deployments', { body })).json as Json;
      print(res, () =>
        [
          `${o.dryRun ? 'Would register' : 'Registered'} ${res.id as string}`,
          table(
            ['SERVICE', 'REVISION'],
            ((res.services as Json[]) ?? []).map((s) => [s.name as string, s.revision as number]),
          ),
        ].join('\n'),
      );
    });
  deployments
    .command('remove <id>')
    .alias('rm')
    .description('remove a deployment (refused while unfinished invocations are pinned to it, unless --force)')
    .option('--force', 'remove it even with pinned invocations (they then cannot finish)')
    .action(async (id: string, o: { force?: boolean }) => {
      const res = (await ctx().admin('DELETE', `/deployments/${encodeURIComponent(id)}`, { query: { force: o.force ? 'true' : undefined } })).json;
      print(res ?? { id }, () => `Removed ${id}`);
    });

  // invocations ----------------------------------------------------------------------------------
  const invocations = program.command('invocations').alias('inv').description('invocations: list, inspect, kill, cancel, results');
  invocations
    .command('ls')
    .alias('list')
    .description('list invocations, newest first')
    .addOption(new Option('--status <list>', 'comma-separated: delayed, inboxed, invoked, suspended, completed'))
    .option('--service <name>', 'only this service')
    .option('--method <name>', 'only this method')
    .option('--key <key>', 'only this key (keyed services)')
    .option('--limit <n>', 'page size (1-200)', '50')
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--all', 'follow the cursor to the last page')
    .action(async (o: { status?: string; service?: string; method?: string; key?: string; limit: string; cursor?: string; all?: boolean }) => {
      const client = ctx();
      const rows: Json[] = [];
      let cursor = o.cursor;
      for (;;) {
        const page = (
          await client.admin('GET', '/invocations', { query: { status: o.status, service: o.service, method: o.method, key: o.key, limit: o.limit, cursor } })
        ).json as { invocations: Json[]; next_cursor?: string };
        rows.push(...page.invocations);
        cursor = page.next_cursor;
        if (!o.all || cursor === undefined) break;
      }
      print({ invocations: rows, ...(cursor ? { next_cursor: cursor } : {}) }, () => {
        const t = table(
          ['ID', 'TARGET', 'KEY', 'STATUS', 'ATTEMPTS', 'CREATED', 'NEXT / LAST FAILURE'],
          rows.map((r) => {
            const failure = r.last_failure as Json | undefined;
            const result = r.result as Json | undefined;
            const note =
              result?.kind === 'failure'
                ? `failed: ${result.message as string}`
                : failure
                  ? `${failure.message as string}`
                  : ((r.next_attempt_at as string | undefined) ?? '');
            return [r.id as string, r.target as string, r.key as string | undefined, r.status as string, r.attempts as number, r.created_at as string, note];
          }),
        );
        return cursor ? `${t}\n\nMore: restless invocations ls --cursor ${cursor}` : t;
      });
    });
  invocations
    .command('describe <id>')
    .alias('get')
    .description('one invocation: status, attempts, last failure, inbox position and its journal')
    .action(async (id: string) => {
      const d = (await ctx().admin('GET', `/invocations/${encodeURIComponent(id)}`)).json as Json;
      print(d, () => describeText(d));
    });
  for (const mode of ['kill', 'cancel'] as const) {
    invocations
      .command(`${mode} <id>`)
      .description(
        mode === 'kill'
          ? 'stop now: fails with ABORTED, no compensation (pending calls killed too)'
          : 'cancel gracefully: the handler sees CANCELLED at its pending awaits and may compensate',
      )
      .action(async (id: string) => {
        const res = (await ctx().admin('DELETE', `/invocations/${encodeURIComponent(id)}`, { query: { mode } })).json as Json | undefined;
        print(res ?? { id }, () => `${id}: ${(res?.status as string | undefined) ?? mode}${res?.message ? ` (${res.message as string})` : ''}`);
      });
  }
  for (const mode of ['output', 'attach'] as const) {
    invocations
      .command(`${mode} <id>`)
      .description(mode === 'output' ? 'the result if finished (exit 6 if not yet)' : 'wait for the result')
      .action(async (id: string) => {
        let res;
        try {
          res = await ctx().ingress('GET', `/restate/invocation/${encodeURIComponent(id)}/${mode}`);
        } catch (err) {
          // The invocation's own failure (a Connect error) is its outcome, not a refused request.
          if (err instanceof AdminRequestError && !REFUSALS.has(err.status) && err.status !== 404 && err.status !== 470) {
            const code = (err.body as { code?: string } | undefined)?.code ?? String(err.status);
            throw new InvocationFailedError(`the invocation failed: [${code}] ${err.message}`);
          }
          throw err;
        }
        io.out(typeof res.json === 'string' ? res.json : JSON.stringify(res.json, null, program.opts<GlobalOptions>().json ? 2 : undefined));
      });
  }

  return program;
}

function describeText(d: Json): string {
  const failure = d.last_failure as Json | undefined;
  const result = d.result as Json | undefined;
  const head = fields([
    ['ID', d.id as string],
    ['Target', d.target as string],
    ['Key', d.key as string | undefined],
    ['Status', `${d.status as string}${d.cancel_requested ? ' (cancel requested)' : ''}`],
    ['Deployment', `${d.deployment_id as string}${d.pinned ? ' (pinned)' : ''}`],
    ['Attempts', d.attempts as number],
    ['Created', d.created_at as string],
    ['Modified', d.modified_at as string],
    ['Next attempt', d.next_attempt_at as string | undefined],
    ['Inbox position', d.inbox_position === undefined ? undefined : d.inbox_position === 0 ? '0 (holds the key)' : (d.inbox_position as number)],
    ['Last failure', failure ? `[${failure.code as number}] ${failure.message as string} at ${failure.at as string}` : undefined],
    ['Result', result ? (result.kind === 'value' ? 'value' : `failure [${result.code as number}] ${result.message as string}`) : undefined],
  ]);
  const journal = d.journal as Json[];
  if (journal.length === 0) return head;
  const rows = journal.map((e) => {
    const waiting = e.waiting_for as Record<string, string> | undefined;
    const result = e.result as string | { failure: Json } | undefined;
    const detail = waiting
      ? `waits for ${Object.entries(waiting).map(([k, v]) => `${k} ${v}`)[0]!}`
      : typeof result === 'object'
        ? `failed: ${result.failure.message as string}`
        : (result ?? (e.child_id ? `child ${e.child_id as string}` : ''));
    return [e.index as number, e.kind as string, e.name as string | undefined, e.completed ? 'done' : 'pending', detail];
  });
  return `${head}\n\nJournal (${journal.length} entries):\n${table(['#', 'KIND', 'NAME', 'STATE', 'DETAIL'], rows)}`;
}

function context(o: GlobalOptions, io: CliIo): AdminClient {
  const { adminUrl, aws, useAws } = target(o, io);
  // On AWS, ingress and admin routes share one HTTP API.
  const ingressUrl = o.ingress ?? io.env.RESTLESS_INGRESS_URL ?? (useAws ? adminUrl : DEFAULT_INGRESS_URL);
  return new AdminClient({ adminUrl, ingressUrl, aws });
}

/** The admin URL and, for AWS, how to sign. */
function target(o: GlobalOptions, io: CliIo): { adminUrl: string; aws?: AwsSigning; useAws: boolean } {
  const adminUrl = o.admin ?? io.env.RESTLESS_ADMIN_URL ?? DEFAULT_ADMIN_URL;
  let parsed: URL;
  try {
    parsed = new URL(adminUrl);
  } catch {
    throw new CliUsageError(`invalid --admin URL '${adminUrl}'`);
  }
  const urlRegion = regionOfApiUrl(parsed);
  const useAws = o.aws === true || urlRegion !== undefined;
  let aws: AwsSigning | undefined;
  if (useAws) {
    const region = o.region ?? urlRegion ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION;
    if (!region) throw new CliUsageError('signing needs a region: pass --region or set AWS_REGION');
    if (!io.awsCredentials) throw new CliUsageError('no AWS credential provider available');
    aws = { region, credentials: io.awsCredentials };
  }
  return { adminUrl, aws, useAws };
}
