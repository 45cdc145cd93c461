import { HttpProblem } from "@codflow/shared";
import { z } from "@hono/zod-openapi";
import { decodeCursor, type PageCursor } from "../domain/cursor.ts";

/** `?limit=&cursor=` of every keyset-paginated list. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
};

/** The cursor a client sent back, or 400 when it is not one this API handed out. */
export function readCursor(text: string | undefined): PageCursor | undefined {
  if (text === undefined) return undefined;
  const cursor = decodeCursor(text);
  if (!cursor) {
    throw new HttpProblem(400, "validation-failed", "The request is not valid", "invalid query", [
      { path: "cursor", message: "not a cursor this API returned" },
    ]);
  }
  return cursor;
}
