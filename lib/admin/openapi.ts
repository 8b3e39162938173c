/** The OpenAPI 3 description served at `GET /openapi`. Keep it in step with admin-api.ts. */

const error = { $ref: '#/components/responses/Error' };
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });

const endpointRoutes = (base: '/endpoints' | '/deployments') => ({
  [base]: {
    get: {
      operationId: `list${base === '/endpoints' ? 'Endpoints' : 'Deployments'}`,
      summary: 'List deployments (registered endpoints), old ones included',
      responses: { '200': { description: 'The deployments', ...json(ref('ListEndpointsResponse')) }, default: error },
    },
    post: {
      operationId: `register${base === '/endpoints' ? 'Endpoint' : 'Deployment'}`,
      summary: 'Register an endpoint as a new deployment: run discovery; its services take new calls',
      requestBody: { required: true, ...json(ref('RegisterEndpointRequest')) },
      responses: {
        '201': {
          description: 'Registered; Location names the endpoint',
          headers: { Location: { schema: { type: 'string' } } },
          ...json(ref('RegisterEndpointResponse')),
        },
        '400': error,
        '409': {
          description: 'The address is already registered (META0004), or an incompatible service change (META0006); retry with force',
          ...json(ref('Error')),
        },
        default: error,
      },
    },
  },
  [`${base}/{id}`]: {
    parameters: [pathParam('id', 'Endpoint (deployment) id')],
    get: {
      operationId: `get${base === '/endpoints' ? 'Endpoint' : 'Deployment'}`,
      summary: 'Get one deployment',
      responses: { '200': { description: 'The deployment', ...json(ref('Endpoint')) }, '404': error, default: error },
    },
    delete: {
      operationId: `delete${base === '/endpoints' ? 'Endpoint' : 'Deployment'}`,
      summary: 'Remove a deployment; services whose latest revision it serves become unavailable (404)',
      parameters: [
        {
          name: 'force',
          in: 'query',
          schema: { type: 'boolean', default: false },
          description: 'Remove it even while unfinished invocations are pinned to it (they then cannot finish)',
        },
      ],
      responses: {
        '202': { description: 'Removed', ...json(ref('DeleteEndpointResponse')) },
        '400': error,
        '404': error,
        '409': { description: 'Unfinished invocations are pinned to the deployment (count in pinned_invocations)', ...json(ref('Error')) },
        default: error,
      },
    },
  },
  [`${base}/{id}/descriptors`]: {
    parameters: [pathParam('id', 'Endpoint id')],
    get: {
      operationId: `get${base === '/endpoints' ? 'Endpoint' : 'Deployment'}Descriptors`,
      summary: "The endpoint's (repaired) FileDescriptorSet",
      responses: {
        '200': { description: 'google.protobuf.FileDescriptorSet', content: { 'application/x-protobuf': { schema: { type: 'string', format: 'binary' } } } },
        '404': error,
      },
    },
  },
});

export const OPENAPI_DOCUMENT = {
  openapi: '3.0.3',
  info: {
    title: 'Restless admin API',
    version: '0.5',
    description: 'Restate 0.5-style admin API (/endpoints), with 0.8 /deployments aliases. Errors are {"message", "restate_code"}.',
  },
  paths: {
    '/health': { get: { operationId: 'health', summary: 'Liveness', responses: { '200': { description: 'Healthy' } } } },
    '/openapi': { get: { operationId: 'openapi', summary: 'This document', responses: { '200': { description: 'OpenAPI 3 JSON' } } } },
    '/ui': {
      get: {
        operationId: 'console',
        summary: 'The web console (static page; its script and style under /ui/)',
        responses: { '200': { description: 'HTML', content: { 'text/html': {} } } },
      },
    },
    ...endpointRoutes('/endpoints'),
    ...endpointRoutes('/deployments'),
    '/services': {
      get: {
        operationId: 'listServices',
        summary: 'List registered services',
        responses: { '200': { description: 'The services', ...json(ref('ListServicesResponse')) }, default: error },
      },
    },
    '/services/{name}': {
      parameters: [pathParam('name', 'Fully qualified service name')],
      get: { operationId: 'getService', responses: { '200': { description: 'The service', ...json(ref('ServiceMetadata')) }, '404': error } },
      patch: {
        operationId: 'modifyService',
        summary: 'Make a service public or private',
        requestBody: { required: true, ...json(ref('ModifyServiceRequest')) },
        responses: { '200': { description: 'The updated service', ...json(ref('ServiceMetadata')) }, '400': error, '403': error, '404': error },
      },
    },
    '/services/{name}/methods': {
      parameters: [pathParam('name', 'Fully qualified service name')],
      get: {
        operationId: 'listServiceMethods',
        responses: {
          '200': {
            description: 'The methods',
            ...json({ type: 'object', required: ['methods'], properties: { methods: { type: 'array', items: ref('MethodMetadata') } } }),
          },
          '404': error,
        },
      },
    },
    '/services/{name}/methods/{method}': {
      parameters: [pathParam('name', 'Fully qualified service name'), pathParam('method', 'Method name')],
      get: { operationId: 'getServiceMethod', responses: { '200': { description: 'The method', ...json(ref('MethodMetadata')) }, '404': error } },
    },
    '/services/{name}/descriptors': {
      parameters: [pathParam('name', 'Fully qualified service name')],
      get: {
        operationId: 'getServiceDescriptors',
        summary: "FileDescriptorSet of the service's file and its imports",
        responses: {
          '200': { description: 'google.protobuf.FileDescriptorSet', content: { 'application/x-protobuf': { schema: { type: 'string', format: 'binary' } } } },
          '404': error,
        },
      },
    },
    '/services/{name}/keys/{key}': {
      parameters: [pathParam('name', 'Keyed or singleton service'), pathParam('key', 'The key (URL-encoded)')],
      get: {
        operationId: 'getServiceKey',
        summary: "A key's instance: its state (keys and sizes, no values), lock holder and inbox",
        responses: { '200': { description: 'The instance', ...json(ref('ServiceInstance')) }, '400': error, '404': error, '501': error },
      },
    },
    '/invocations': {
      get: {
        operationId: 'listInvocations',
        summary: 'Invocations, newest first, one page at a time (the `list` index; no table scan). Finished ones are listed until their retention passes',
        parameters: [
          { name: 'status', in: 'query', schema: { type: 'string' }, description: 'Comma-separated: delayed, inboxed, invoked, suspended, completed' },
          { name: 'service', in: 'query', schema: { type: 'string' } },
          { name: 'method', in: 'query', schema: { type: 'string' } },
          { name: 'key', in: 'query', schema: { type: 'string' } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'next_cursor of the previous page, unchanged' },
        ],
        responses: {
          '200': {
            description: 'A page; it may hold fewer than `limit` (a rare status) and still carry next_cursor',
            ...json({
              type: 'object',
              required: ['invocations'],
              properties: { invocations: { type: 'array', items: ref('InvocationSummary') }, next_cursor: { type: 'string' } },
            }),
          },
          '400': error,
          '501': error,
        },
      },
    },
    '/invocations/{id}': {
      parameters: [pathParam('id', 'Invocation id')],
      get: {
        operationId: 'getInvocation',
        summary: 'Invocation status with its journal',
        responses: { '200': { description: 'The invocation', ...json(ref('InvocationDetail')) }, '400': error, '404': error, '501': error },
      },
      delete: {
        operationId: 'terminateInvocation',
        summary: 'Kill (default) or cancel an invocation',
        parameters: [{ name: 'mode', in: 'query', schema: { type: 'string', enum: ['kill', 'cancel'] } }],
        responses: { '200': { description: 'Done' }, '202': { description: 'Accepted' }, '400': error, '501': error },
      },
    },
  },
  components: {
    responses: { Error: { description: 'Error', ...json(ref('Error')) } },
    schemas: {
      Error: {
        type: 'object',
        required: ['message'],
        properties: {
          message: { type: 'string' },
          restate_code: { type: 'string', nullable: true },
          pinned_invocations: { type: 'integer', description: 'DELETE of a deployment in use only' },
        },
      },
      RegisterEndpointRequest: {
        type: 'object',
        properties: {
          uri: { type: 'string', description: 'http:// or https:// endpoint (h2c for http://)' },
          arn: { type: 'string', description: 'Lambda function ARN' },
          assume_role_arn: { type: 'string' },
          additional_headers: { type: 'object', additionalProperties: { type: 'string' } },
          force: {
            type: 'boolean',
            default: false,
            description: 'Replace the deployment at the same address in place, and allow incompatible service changes (both unsafe for invocations in flight)',
          },
          dry_run: { type: 'boolean', default: false },
        },
      },
      RegisterEndpointResponse: {
        type: 'object',
        required: ['id', 'services'],
        properties: {
          id: { type: 'string' },
          services: { type: 'array', items: ref('ServiceMetadata') },
          warnings: {
            type: 'array',
            items: { type: 'string' },
            description:
              'Accepted, but worth knowing: code that can change under pinned invocations (unqualified ARN, $LATEST, alias), dropped methods, an in-place replacement',
          },
        },
      },
      DeleteEndpointResponse: {
        type: 'object',
        required: ['id', 'unavailable_services'],
        properties: {
          id: { type: 'string' },
          unavailable_services: {
            type: 'array',
            items: { type: 'string' },
            description: 'Services whose latest revision was on this deployment: new calls now answer 404',
          },
          pinned_invocations: { type: 'integer', description: 'Invocations pinned to it when it was removed (when counted)' },
        },
      },
      Endpoint: {
        type: 'object',
        description: 'A deployment: one registered address. Immutable; invocations stay pinned to the deployment they started on',
        required: ['id', 'additional_headers', 'created_at', 'services'],
        properties: {
          id: { type: 'string' },
          uri: { type: 'string' },
          protocol_type: { type: 'string', enum: ['RequestResponse', 'BidiStream'] },
          arn: { type: 'string' },
          assume_role_arn: { type: 'string' },
          additional_headers: { type: 'object', additionalProperties: { type: 'string' } },
          created_at: { type: 'string', format: 'date-time' },
          services: {
            type: 'array',
            description: 'The services this deployment serves, at the revision it registered',
            items: {
              type: 'object',
              required: ['name', 'revision', 'latest'],
              properties: {
                name: { type: 'string' },
                revision: { type: 'integer' },
                latest: { type: 'boolean', description: 'New calls to the service go to this deployment' },
              },
            },
          },
          pinned_invocations: { type: 'integer', description: 'Unfinished invocations pinned to this deployment (when the runtime can count them)' },
        },
      },
      ListEndpointsResponse: { type: 'object', required: ['endpoints'], properties: { endpoints: { type: 'array', items: ref('Endpoint') } } },
      ServiceMetadata: {
        type: 'object',
        required: ['name', 'methods', 'instance_type', 'endpoint_id', 'revision', 'public'],
        properties: {
          name: { type: 'string' },
          methods: { type: 'array', items: ref('MethodMetadata') },
          instance_type: { type: 'string', enum: ['Keyed', 'Unkeyed', 'Singleton'] },
          endpoint_id: { type: 'string' },
          revision: { type: 'integer', minimum: 1 },
          public: { type: 'boolean' },
        },
      },
      MethodMetadata: {
        type: 'object',
        required: ['name', 'input_type', 'output_type'],
        properties: {
          name: { type: 'string' },
          input_type: { type: 'string' },
          output_type: { type: 'string' },
          key_field_number: { type: 'integer', description: 'Keyed services only' },
        },
      },
      ListServicesResponse: { type: 'object', required: ['services'], properties: { services: { type: 'array', items: ref('ServiceMetadata') } } },
      InvocationSummary: {
        type: 'object',
        required: ['id', 'target', 'service', 'method', 'status', 'attempts', 'created_at', 'modified_at', 'deployment_id'],
        properties: {
          id: { type: 'string' },
          target: { type: 'string', description: 'service/method' },
          service: { type: 'string' },
          method: { type: 'string' },
          key: { type: 'string', description: 'Keyed and singleton services' },
          status: { type: 'string', enum: ['delayed', 'inboxed', 'invoked', 'suspended', 'completed'] },
          attempts: { type: 'integer', description: 'Attempts since the last progress' },
          created_at: { type: 'string', format: 'date-time' },
          modified_at: { type: 'string', format: 'date-time' },
          deployment_id: { type: 'string' },
          next_attempt_at: { type: 'string', format: 'date-time', description: 'When the runtime looks at it next (retry, timer, lease end)' },
          last_failure: ref('Failure'),
          result: {
            type: 'object',
            properties: { kind: { type: 'string', enum: ['value', 'failure'] }, code: { type: 'integer' }, message: { type: 'string' } },
          },
        },
      },
      Failure: {
        type: 'object',
        required: ['code', 'message', 'at'],
        properties: { code: { type: 'integer' }, message: { type: 'string' }, at: { type: 'string', format: 'date-time' } },
      },
      InvocationDetail: {
        allOf: [
          ref('InvocationSummary'),
          {
            type: 'object',
            required: ['pinned', 'cancel_requested', 'journal', 'journal_length'],
            properties: {
              pinned: { type: 'boolean', description: 'It has journaled progress, so it runs only on deployment_id' },
              cancel_requested: { type: 'boolean' },
              inbox_position: { type: 'integer', description: "Keyed, unfinished: 0 = holds the key's lock, n = n ahead of it, -1 = not in the inbox" },
              journal_length: { type: 'integer' },
              journal: { type: 'array', description: 'Empty once finished (only the result is kept)', items: ref('JournalEntry') },
            },
          },
        ],
      },
      JournalEntry: {
        type: 'object',
        required: ['index', 'kind', 'completed'],
        properties: {
          index: { type: 'integer', description: '1 = the first entry after the input' },
          kind: {
            type: 'string',
            description:
              'input, output, get_state, set_state, clear_state, clear_all_state, get_state_keys, sleep, call, one_way_call, awakeable, complete_awakeable, side_effect, combinator, custom_0x…',
          },
          name: { type: 'string', description: 'State key or call target' },
          completed: { type: 'boolean' },
          child_id: { type: 'string', description: 'The invocation a call or one-way call created' },
          waiting_for: {
            type: 'object',
            description: 'Exactly one of these',
            properties: {
              timer: { type: 'string', description: 'Due time (ISO 8601)' },
              child: { type: 'string' },
              awakeable: { type: 'string' },
              state: { type: 'string' },
            },
          },
          result: { description: '"value", "empty" or {"failure": {code, message}}' },
        },
      },
      ServiceInstance: {
        type: 'object',
        required: ['service', 'key', 'inbox', 'state'],
        properties: {
          service: { type: 'string' },
          key: { type: 'string' },
          lock_holder: { type: 'string', description: 'The invocation holding the key (absent when free)' },
          inbox: { type: 'array', items: { type: 'string' }, description: 'Waiting invocations, next first' },
          state: {
            type: 'array',
            items: { type: 'object', required: ['key', 'size'], properties: { key: { type: 'string' }, size: { type: 'integer', description: 'Bytes' } } },
          },
        },
      },
      ModifyServiceRequest: { type: 'object', required: ['public'], additionalProperties: false, properties: { public: { type: 'boolean' } } },
    },
  },
} as const;
