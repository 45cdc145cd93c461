import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "./cursor.ts";

describe("page cursors", () => {
  test.prop([
    fc.date({ noInvalidDate: true, min: new Date(0), max: new Date("9999-12-31") }),
    fc.uuid(),
  ])("decode what they encode", (date, id) => {
    const cursor = { createdAt: date.toISOString().replace(/Z$/, "123Z"), id };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
  });

  it("keep Postgres' microseconds", () => {
    const cursor = {
      createdAt: "2025-01-02T03:04:05.123456Z",
      id: "0190f2a0-0000-7000-8000-000000000001",
    };
    expect(decodeCursor(encodeCursor(cursor))?.createdAt).toBe("2025-01-02T03:04:05.123456Z");
  });

  it("reject text that is not a cursor this API returned", () => {
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    expect(decodeCursor("not base64 json")).toBeUndefined();
    expect(decodeCursor(forged({ createdAt: "2025-01-01T00:00:00Z" }))).toBeUndefined();
    expect(
      decodeCursor(forged(["yesterday", "0190f2a0-0000-7000-8000-000000000001"])),
    ).toBeUndefined();
    expect(decodeCursor(forged(["2025-01-01T00:00:00Z", "1; drop table orders"]))).toBeUndefined();
  });
});
