import { randomBytes } from "node:crypto";

/** A NATS namespace (subject and stream prefix) of a test file's own: reruns never meet old state. */
export const uniqueNamespace = (label = "t") => `${label}_${randomBytes(5).toString("hex")}`;
