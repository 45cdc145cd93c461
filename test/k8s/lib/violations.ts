/** The rules, one name each, so a test can take them by group. */
export type Check =
  | "schema"
  | "unknown-field"
  | "namespace"
  | "pod-security"
  | "probes"
  | "resources"
  | "image"
  | "pdb"
  | "network-policy"
  | "env"
  | "production-settings";

/** One thing a manifest gets wrong, said so that whoever reads CI's log can fix it. */
export interface Violation {
  check: Check;
  /** `Deployment codflow/checkout` */
  object: string;
  /** What is wrong and where: `spec.template.spec.containers[0].image: …` */
  message: string;
}

/** One line per violation, for an assertion's failure message. */
export const formatViolations = (violations: Violation[]) =>
  violations.map((v) => `[${v.check}] ${v.object}: ${v.message}`).join("\n");
