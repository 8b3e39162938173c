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
        '409': { description: 'The address is already registered (META0004), or an incompatible service change (META0006); retry with force', ...json(ref('Error')) },
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
    ...endpointRoutes('/endpoints'),
    ...endpointRoutes('/deployments'),
    '/services': {
      get: { operationId: 'listServices', summary: 'List registered services', responses: { '200': { description: 'The services', ...json(ref('ListServicesResponse')) }, default: error } },
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
          '200': { description: 'The methods', ...json({ type: 'object', required: ['methods'], properties: { methods: { type: 'array', items: ref('MethodMetadata') } } }) },
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
    '/invocations/{id}': {
      parameters: [pathParam('id', 'Invocation id')],
      get: { operationId: 'getInvocation', summary: 'Invocation status', responses: { '200': { description: 'Status', ...json({ type: 'object' }) }, '404': error, '501': error } },
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
            description: 'Accepted, but worth knowing: code that can change under pinned invocations (unqualified ARN, $LATEST, alias), dropped methods, an in-place replacement',
          },
        },
      },
      DeleteEndpointResponse: {
        type: 'object',
        required: ['id', 'unavailable_services'],
        properties: {
          id: { type: 'string' },
          unavailable_services: { type: 'array', items: { type: 'string' }, description: 'Services whose latest revision was on this deployment: new calls now answer 404' },
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
      ModifyServiceRequest: { type: 'object', required: ['public'], additionalProperties: false, properties: { public: { type: 'boolean' } } },
    },
  },
} as const;
