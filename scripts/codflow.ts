/**
 * `pnpm codflow <command>`: the operator's CLI.
 *   dlq list [--limit N] [--json]   dead letters: consumer, event, deliveries, reason
 *   dlq replay <seq> [<seq>...]     publish dead letters again to their subject, then drop them
 * Reads NATS_URL (default nats://127.0.0.1:4222) and NATS_NAMESPACE (default codflow).
 */
import { parseArgs } from "node:util";
import { connectBroker, createLogger, readEnvConfig } from "@codflow/shared";
import { z } from "zod";
import { listDeadLetters, replayDeadLetter } from "./cli/dlq.ts";

const USAGE = `usage:
  pnpm codflow dlq list [--limit N] [--json]
  pnpm codflow dlq replay <seq> [<seq>...]`;

const settings = z.object({
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  NATS_NAMESPACE: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/)
    .default("codflow"),
});

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { limit: { type: "string", default: "100" }, json: { type: "boolean", default: false } },
});
const [group, command, ...rest] = positionals;
if (group !== "dlq" || (command !== "list" && command !== "replay")) fail(USAGE);

const config = readEnvConfig("codflow", settings);
const broker = await connectBroker({
  url: config.NATS_URL,
  namespace: config.NATS_NAMESPACE,
  name: "codflow-cli",
  logger: createLogger({ service: "codflow-cli", level: "warn" }),
}).catch((err: Error) => fail(`cannot reach NATS at ${config.NATS_URL}: ${err.message}`));

try {
  if (command === "list") {
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1)
      fail(`--limit must be a positive whole number, got "${values.limit}"`);
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
    if (rest.length === 0) fail(USAGE);
    for (const arg of rest) {
      const seq = Number(arg);
      if (!Number.isInteger(seq) || seq < 1) fail(`not a dead-letter sequence number: "${arg}"`);
      const letter = await replayDeadLetter(broker, seq);
      console.log(
        `replayed #${seq} (${letter.eventType ?? "unparsable"} ${letter.eventId ?? ""}) to ${letter.originalSubject}`,
      );
    }
  }
} catch (err) {
  console.error((err as Error).message);
  process.exitCode = 1;
} finally {
  await broker.close();
}
