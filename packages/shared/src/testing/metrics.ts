/** Reads `/metrics` of an app in-process (e.g. `createApp(deps)`); returns the exposition text. */
export async function scrapeMetrics(app: {
  request(path: string): Response | Promise<Response>;
}): Promise<string> {
  const res = await app.request("/metrics");
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/**
 * The value of the sample `name` whose labels include `labels` (undefined when absent).
 * Example: `metricValue(text, "codflow_checkouts_total", { outcome: "accepted" })`.
 */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      found[key as string] = value as string;
    }
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}
