import { describe, expect, it } from "vitest";
import { requestHash } from "./request-hash.ts";

describe("requestHash", () => {
  it("is the same for the same fields in another order", () => {
    expect(requestHash({ a: 1, b: { c: [1, 2], d: "x" } })).toBe(
      requestHash({ b: { d: "x", c: [1, 2] }, a: 1 }),
    );
  });

  it("differs when any value differs", () => {
    expect(requestHash({ a: 1, b: { c: [1, 2] } })).not.toBe(
      requestHash({ a: 1, b: { c: [2, 1] } }),
    );
  });

  it("treats an absent optional field and an undefined one alike", () => {
    expect(requestHash({ a: 1, b: undefined })).toBe(requestHash({ a: 1 }));
  });
});
