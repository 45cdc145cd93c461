/** The same base as PROBLEM_TYPE_BASE in @codflow/shared (RFC 9457 problem types, slug last). */
export const PROBLEM_TYPE_BASE = "https://codflow.dev/problems/";

export type ProblemSlug =
  | "not-found"
  | "payload-too-large"
  | "bad-gateway"
  | "gateway-timeout"
  | "internal-error";

/** An `application/problem+json` response: `{type, title, status, detail}`. */
export function problemResponse(
  status: number,
  slug: ProblemSlug,
  title: string,
  detail: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify({ type: PROBLEM_TYPE_BASE + slug, title, status, detail }), {
    status,
    headers: { ...headers, "content-type": "application/problem+json" },
  });
}
