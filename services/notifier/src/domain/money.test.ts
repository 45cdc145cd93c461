import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { formatMoney } from "./money.ts";

describe("formatMoney", () => {
  it("uses each currency's own number of fraction digits", () => {
    expect(formatMoney(3499, "EUR")).toBe("EUR 34.99");
    expect(formatMoney(5, "EUR")).toBe("EUR 0.05");
    expect(formatMoney(0, "EUR")).toBe("EUR 0.00");
    expect(formatMoney(1500, "JPY")).toBe("JPY 1,500");
    expect(formatMoney(1234, "KWD")).toBe("KWD 1.234");
    expect(formatMoney(12345678, "INR")).toBe("INR 123,456.78");
  });

  test.prop([fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })])(
    "shows every minor unit exactly, even past float precision",
    (minor) => {
      const digits = formatMoney(minor, "EUR").replace(/[^0-9]/g, "");
      expect(BigInt(digits)).toBe(BigInt(minor));
    },
  );
});
