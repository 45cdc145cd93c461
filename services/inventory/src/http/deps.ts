import type { Sql, TokenVerifier } from "@codflow/shared";

/** What the route modules need: the pool, the outbox namespace, and the token check. */
export interface RouteDeps {
  sql: Sql;
  namespace: string;
  verifyToken: TokenVerifier;
}
