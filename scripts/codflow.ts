/**
 * `pnpm codflow <command>`: the operator's CLI.
 *   inspect <checkoutId> [--json]      the checkout's saga across the four services' databases
 *   stuck [--older-than 60] [--json]   checkouts still processing after N seconds
 *   dlq list [--limit N] [--json]      dead letters: consumer, event, deliveries, reason
 *   dlq replay <seq> [<seq>...]        publish dead letters again to their subject, then drop them
 * Databases (read-only): CHECKOUT_DATABASE_URL, INVENTORY_DATABASE_URL, ORDERS_DATABASE_URL,
 * NOTIFIER_DATABASE_URL (default postgres://codflow_<service>@127.0.0.1:5432/codflow_<service>, each
 * service's own role).
 * NATS: NATS_URL (default nats://127.0.0.1:4222) and NATS_NAMESPACE (default codflow).
 * Exit codes: 0 done, 1 failed (unknown checkout, unreachable database or broker), 2 bad usage.
 */
import { parseArgs } from "node:util";
import { connectBroker, createLogger, readEnvConfig } from "@codflow/shared";
import { z } from "zod";
import { BACKENDS, connectReadOnly } from "./cli/databases.ts";
import { listDeadLetters, replayDeadLetter } from "./cli/dlq.ts";
import { formatInspection, inspectCheckout, isUuid } from "./cli/inspect.ts";
import { formatStuck, listStuck } from "./cli/stuck.ts";

const USAGE = `usage:
  pnpm codflow inspect <checkoutId> [--json]
  pnpm codflow stuck [--older-than SECONDS] [--json]
  pnpm codflow dlq list [--limit N] [--json]
  pnpm codflow dlq replay <seq> [<seq>...]`;

function fail(message: string, code = 2): never {
  console.error(message);
  process.exit(code);
}

let parsed: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      limit: { type: "string", default: "100" },
      "older-than": { type: "string", default: "60" },
      json: { type: "boolean", default: false },
    },
  });
}
try {
  parsed = parse();
} catch (err) {
  fail(`${(err as Error).message}\n${USAGE}`);
}
const { positionals, values } = parsed;
const [group, ...rest] = positionals;

async function inspect() {
  const [checkoutId, ...extra] = rest;
  if (!checkoutId || extra.length > 0) fail(USAGE);
  if (!isUuid(checkoutId)) fail(`not a checkout id (a uuid): "${checkoutId}"`);
  const db = await connectReadOnly(BACKENDS).catch((err: Error) => fail(err.message, 1));
  try {
    const result = await inspectCheckout(db.sql, checkoutId);
    console.log(values.json ? JSON.stringify(result, null, 2) : formatInspection(result));
  } finally {
    await db.close();
  }
}

async function stuck() {
  if (rest.length > 0) fail(USAGE);
  const raw = values["older-than"];
  const olderThan = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(olderThan))
    fail(`--older-than must be a number of seconds (0 or more), got "${raw}"`);
  const db = await connectReadOnly(["checkout"] as const).catch((err: Error) =>
    fail(err.message, 1),
  );
  try {
    const rows = await listStuck(db.sql.checkout, { olderThanSeconds: olderThan });
    console.log(
      values.json
        ? JSON.stringify({ olderThanSeconds: olderThan, checkouts: rows }, null, 2)
        : formatStuck(rows, olderThan),
    );
  } finally {
    await db.close();
  }
}

async function dlq() {
  const [command, ...seqs] = rest;
  if (command !== "list" && command !== "replay") fail(USAGE);
  const config = readEnvConfig(
    "codflow",
    z.object({
      NATS_URL: z.string().default("nats://127.0.0.1:4222"),
      NATS_NAMESPACE: z
        .string()
        .regex(/^[a-z][a-z0-9_]*$/)
        .default("codflow"),
    }),
  );
  let limit = 0;
  if (command === "list") {
    limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1)
      fail(`--limit must be a positive whole number, got "${values.limit}"`);
  } else {
    if (seqs.length === 0) fail(USAGE);
    for (const arg of seqs) {
      const seq = Number(arg);
      if (!Number.isInteger(seq) || seq < 1) fail(`not a dead-letter sequence number: "${arg}"`);
    }
  }
  const broker = await connectBroker({
    url: config.NATS_URL,
    namespace: config.NATS_NAMESPACE,
    name: "codflow-cli",
    logger: createLogger({ service: "codflow-cli", level: "warn" }),
  }).catch((err: Error) => fail(`cannot reach NATS at ${config.NATS_URL}: ${err.message}`, 1));
  try {
    if (command === "list") {
      const { total, letters } = await listDeadLetters(broker, { limit });
      if (values.json) console.log(JSON.stringify({ total, letters }, null, 2));
      else {
        console.log(`${total} dead letter(s) in namespace ${config.NATS_NAMESPACE}`);
        for (const l of letters) {
          console.log(
            `#${l.seq}  ${l.at}  ${l.consumer}  ${l.eventType ?? "?"} ${l.eventId ?? ""}  deliveries=${l.deliveries}\n      reason: ${l.reason}`,
          );
        }
      }
    } else {
      for (const arg of seqs) {
        const seq = Number(arg);
        const letter = await replayDeadLetter(broker, seq);
        console.log(
          `replayed #${seq} (${letter.eventType ?? "unparsable"} ${letter.eventId ?? ""}) to ${letter.originalSubject}`,
        );
      }
    }
  } finally {
    await broker.close();
  }
}

const commands: Record<string, () => Promise<void>> = { inspect, stuck, dlq };
const run = group ? commands[group] : undefined;
if (!run) fail(USAGE);
try {
  await run();
} catch (err) {
  const e = err as Error & { code?: string };
  // undefined_table / undefined_column: the database is older than this CLI
  const hint =
    e.code === "42P01" || e.code === "42703" ? " (is the database migrated? pnpm migrate)" : "";
  console.error(`${e.message}${hint}`);
  process.exitCode = 1;
}
