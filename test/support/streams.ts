import { randomUUID } from "node:crypto";
import {
  type Broker,
  connectBroker,
  createLogger,
  type StreamContext,
  streamName,
} from "@codflow/shared";
import { headers as natsHeaders } from "@nats-io/transport-node";

/** A message as the broker stores it, with its envelope parsed. */
export interface StoredMessage {
  stream: string;
  seq: number;
  subject: string;
  headers: Record<string, string>;
  envelope: { id: string; type: string; correlationId: string; data: Record<string, unknown> };
  raw: Uint8Array;
}

/** A connection of the test's own to the stack's broker (it reconnects across restarts). */
export const connectTestBroker = (url: string, namespace: string) =>
  connectBroker({
    url,
    namespace,
    name: "chaos-test",
    logger: createLogger({ service: "chaos-test", level: "silent" }),
  });

/** Every message still stored in a context's stream (deleted ones skipped), oldest first. */
export async function storedMessages(
  broker: Broker,
  context: StreamContext,
  { type }: { type?: string } = {},
): Promise<StoredMessage[]> {
  const stream = streamName(broker.namespace, context);
  const { state } = await broker.jsm.streams.info(stream);
  const found: StoredMessage[] = [];
  if (state.messages === 0) return found;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const msg = await broker.jsm.streams.getMessage(stream, { seq });
    if (!msg) continue;
    const stored = toStored(stream, seq, msg);
    if (!type || stored.envelope.type === type) found.push(stored);
  }
  return found;
}

type Fetched = NonNullable<Awaited<ReturnType<Broker["jsm"]["streams"]["getMessage"]>>>;

function toStored(stream: string, seq: number, msg: Fetched): StoredMessage {
  const headers: Record<string, string> = {};
  for (const key of msg.header?.keys() ?? []) headers[key] = msg.header.get(key);
  const envelope = msg.json<StoredMessage["envelope"]>();
  return { stream, seq, subject: msg.subject, headers, envelope, raw: msg.data };
}

/** Publishes a stored message again under a fresh Nats-Msg-Id, as a broker redelivery would. */
export async function republish(broker: Broker, message: StoredMessage) {
  const h = natsHeaders();
  for (const [key, value] of Object.entries(message.headers)) {
    if (key !== "Nats-Msg-Id") h.set(key, value);
  }
  await broker.js.publish(message.subject, message.raw, { msgID: randomUUID(), headers: h });
}

/**
 * The message `pick` steps into a context's stream (wrapping around), or undefined when the
 * stream is empty or that message was deleted.
 */
export async function messageAt(
  broker: Broker,
  context: StreamContext,
  pick: number,
): Promise<StoredMessage | undefined> {
  const stream = streamName(broker.namespace, context);
  const { state } = await broker.jsm.streams.info(stream);
  if (state.messages === 0) return undefined;
  const seq = state.first_seq + (pick % (state.last_seq - state.first_seq + 1));
  const msg = await broker.jsm.streams.getMessage(stream, { seq });
  if (!msg) return undefined;
  return toStored(stream, seq, msg);
}
