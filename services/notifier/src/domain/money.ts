/**
 * One formatter per currency: building an Intl.NumberFormat (ICU) was 12 % of the notifier's CPU
 * under load when each mail built its own. Only currencies ICU accepts are kept (an unknown code
 * throws before it is stored), so the cache holds at most the ISO 4217 list.
 */
const formatters = new Map<string, { format: Intl.NumberFormat; digits: number }>();

function formatterFor(currency: string) {
  let formatter = formatters.get(currency);
  if (!formatter) {
    const format = new Intl.NumberFormat("en-US", {
      style: "currency",
      currency,
      currencyDisplay: "code",
    });
    formatter = { format, digits: format.resolvedOptions().maximumFractionDigits ?? 2 };
    formatters.set(currency, formatter);
  }
  return formatter;
}

/**
 * Formats integer minor units in their ISO currency, exactly (no float arithmetic): the minor
 * units become a decimal string with the currency's own number of fraction digits (EUR 2,
 * JPY 0, KWD 3). Example: `formatMoney(3499, "EUR")` → `"EUR 34.99"`.
 */
export function formatMoney(minor: number, currency: string): string {
  const { format, digits } = formatterFor(currency);
  const units = Math.abs(minor)
    .toString()
    .padStart(digits + 1, "0");
  const decimal = digits === 0 ? units : `${units.slice(0, -digits)}.${units.slice(-digits)}`;
  const sign = minor < 0 ? "-" : "";
  return format.format(`${sign}${decimal}` as Intl.StringNumericLiteral).replace(/\u00a0/g, " ");
}
