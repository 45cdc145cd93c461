/**
 * The keyset position after the last item of a page: its creation time (full microsecond
 * precision, as Postgres prints it) and id. Opaque to clients: base64url of JSON.
 */
export interface PageCursor {
  createdAt: string;
  id: string;
}

export function encodeCursor(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString("base64url");
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/** The cursor, or undefined when the text is not one this API handed out. */
export function decodeCursor(text: string): PageCursor | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) return undefined;
  const [createdAt, id] = parsed;
  if (typeof createdAt !== "string" || !TIMESTAMP.test(createdAt)) return undefined;
  if (typeof id !== "string" || !UUID.test(id)) return undefined;
  return { createdAt, id };
}
