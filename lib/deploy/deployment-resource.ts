/**
 * The contract between the construct (which declares the custom resource) and its registrar
 * function (which serves it), in a module of its own so the construct needs no AWS SDK.
 */

/** CloudFormation type of the resource `Restless.registerEndpoint` declares. */
export const DEPLOYMENT_RESOURCE_TYPE = 'Custom::RestlessDeployment';

/** The registrar learns the admin function from this variable (the construct sets it). */
export const ADMIN_FUNCTION_NAME_ENV = 'RESTLESS_ADMIN_FUNCTION_NAME';

/** The resource's properties. CloudFormation hands every value over as a string. */
export interface DeploymentResourceProperties {
  /** Qualified ARN of the published version (`…:function:greeter:7`). */
  readonly Arn: string;
  /** Sent as `assume_role_arn`. */
  readonly AssumeRoleArn?: string;
  /** Sent as `force` (`'true'` or `'false'`). */
  readonly Force?: string | boolean;
}

/** Attributes of the resource (`getAttString`): the deployment id, and the services it serves, comma-separated. */
export const DEPLOYMENT_ATTRIBUTES = { deploymentId: 'DeploymentId', services: 'Services' } as const;
