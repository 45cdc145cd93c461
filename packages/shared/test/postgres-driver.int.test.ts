import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { TEST_PG_URL } from "../src/testing/index.ts";

/**
 * Regression tests for the patched postgres.js (patches/postgres@3.4.9.patch). Its bugs show
 * under load only by chance; here they are made to happen at will.
 */
describe("postgres.js as patched", () => {
  it("reserves the connection of a sql.begin whose BEGIN fills the pipeline (porsager/postgres #823, #1189)", async () => {
    // max_pipeline 0: every BEGIN is at the pipeline boundary, which under load happens by chance
    // (seen as a 500 UNSAFE_TRANSACTION from POST /v1/checkouts at 200 checkouts/s)
    // max_pipeline is a real option that postgres.js's types leave out
    const options = { max: 2, max_pipeline: 0, onnotice: () => {} } as postgres.Options<
      Record<string, postgres.PostgresType>
    >;
    const sql = postgres(TEST_PG_URL, options);
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 4 }, () =>
          sql.begin(async (tx) => {
            const [first] = await tx<{ xid: string }[]>`select txid_current()::text as xid`;
            const [second] = await tx<{ xid: string }[]>`select txid_current()::text as xid`;
            return first?.xid !== undefined && first.xid === second?.xid;
          }),
        ),
      );
      expect(results.map((r) => (r.status === "fulfilled" ? r.value : String(r.reason)))).toEqual([
        true,
        true,
        true,
        true,
      ]);
    } finally {
      await sql.end({ timeout: 5 });
    }
  });
});
