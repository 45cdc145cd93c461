import { checkDefaultDeny, checkNamespaces, checkWorkloadCoverage } from "./coverage-policies.ts";
import type { K8sObject } from "./objects.ts";
import { checkDatabaseClusters, checkPods } from "./pod-policies.ts";
import { validateObjects } from "./schemas.ts";
import { checkServiceEnv } from "./service-env.ts";
import type { Violation } from "./violations.ts";

export interface CheckOptions {
  /** The prod overlay: services must run with NODE_ENV=production. */
  production: boolean;
}

/** Every check over one rendered set of objects: schemas first, then the policies. */
export async function checkManifests(
  objects: K8sObject[],
  options: CheckOptions,
): Promise<Violation[]> {
  return [
    ...(await validateObjects(objects)),
    ...checkNamespaces(objects),
    ...checkDefaultDeny(objects),
    ...checkPods(objects),
    ...checkDatabaseClusters(objects),
    ...checkWorkloadCoverage(objects),
    ...checkServiceEnv(objects, options),
  ];
}
