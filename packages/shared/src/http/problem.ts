import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export const PROBLEM_TYPE_BASE = "https://codflow.dev/problems/";

export const problemSchema = z
  .object({
    type: z.string().openapi({ example: `${PROBLEM_TYPE_BASE}cart-empty` }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

export type Problem = z.infer<typeof problemSchema>;

/**
 * A domain refusal with a stable slug; thrown anywhere in a request and turned into
 * `application/problem+json` in one place (the app's error handler).
 * Example: `throw new HttpProblem(409, "cart-empty", "The cart is empty")`.
 */
export class HttpProblem extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly slug: string,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: Problem["errors"],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
  }

  toJSON(): Problem {
    return {
      type: `${PROBLEM_TYPE_BASE}${this.slug}`,
      title: this.title,
      status: this.status,
      ...(this.detail ? { detail: this.detail } : {}),
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

export function problemResponse(c: Context, problem: HttpProblem) {
  for (const [key, value] of Object.entries(problem.headers)) c.header(key, value);
  return c.body(JSON.stringify(problem.toJSON()), problem.status, {
    "content-type": "application/problem+json",
  });
}

/** Field errors from a zod failure, e.g. `[{path: "shippingAddress.city", message: "Required"}]`. */
export function validationProblem(error: z.ZodError, where: string) {
  return new HttpProblem(
    400,
    "validation-failed",
    "The request is not valid",
    `invalid ${where}`,
    error.issues.map((i) => ({ path: i.path.join(".") || where, message: i.message })),
  );
}

/** The OpenAPI response entry for a problem status. */
export const problemContent = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: problemSchema } },
});
