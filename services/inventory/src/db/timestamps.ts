/**
 * Timestamps arrive from postgres.js as text, not Date: drizzle, sharing the client, installs
 * pass-through parsers for the date types. This turns either form into ISO-8601 UTC.
 */
export type DbTimestamp = string | Date;

export const isoTimestamp = (value: DbTimestamp) => new Date(value).toISOString();
