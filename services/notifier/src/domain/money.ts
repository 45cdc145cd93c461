/**
 * Formats integer minor units in their ISO currency, exactly (no float arithmetic): the minor
 * units become a decimal string with the currency's own number of fraction digits (EUR 2,
 * JPY 0, KWD 3). Example: `formatMoney(3499, "EUR")` → `"EUR 34.99"`.
 */
export function formatMoney(minor: number, currency: string): string {
  const format = new Intl.NumberFormat("en-US", {
    style: "currency",
    currency,
    currencyDisplay: "code",
  });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  const units = Math.abs(minor)
    .toString()
    .padStart(digits + 1, "0");
  const decimal = digits === 0 ? units : `${units.slice(0, -digits)}.${units.slice(-digits)}`;
  const sign = minor < 0 ? "-" : "";
  return format.format(`${sign}${decimal}` as Intl.StringNumericLiteral).replace(/\u00a0/g, " ");
}
