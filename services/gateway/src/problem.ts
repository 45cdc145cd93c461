/** Problem types end in a stable slug, as the services' do (RFC 9457). */
export const PROBLEM_TYPE_BASE = "https://codflow.example/problems/";

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
): Response {
  return new Response(JSON.stringify({ type: PROBLEM_TYPE_BASE + slug, title, status, detail }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });
}
