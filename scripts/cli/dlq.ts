import { type Broker, deadLetterSubject, isNotFound, streamName } from "@codflow/shared";
import { headers as natsHeaders } from "@nats-io/transport-node";

/** One dead letter as an operator sees it. */
export interface DeadLetter {
  seq: number;
  at: string;
  consumer: string;
  originalSubject: string;
  deliveries: number;
  reason: string;
  eventId: string | null;
  eventType: string | null;
}

const DLQ_HEADERS = [
  "Codflow-Dlq-Reason",
  "Codflow-Dlq-Consumer",
  "Codflow-Dlq-Original-Subject",
  "Codflow-Dlq-Deliveries",
];

function describe(
  seq: number,
  msg: Awaited<ReturnType<Broker["jsm"]["streams"]["getMessage"]>>,
): DeadLetter {
  let eventId: string | null = null;
  let eventType: string | null = null;
  try {
    const body = msg?.json<{ id?: string; type?: string }>();
    eventId = typeof body?.id === "string" ? body.id : null;
    eventType = typeof body?.type === "string" ? body.type : null;
  } catch {
    // not JSON: that is often why it is a dead letter
  }
  return {
    seq,
    at: msg?.time.toISOString() ?? "",
    consumer: msg?.header.get("Codflow-Dlq-Consumer") ?? "",
    originalSubject: msg?.header.get("Codflow-Dlq-Original-Subject") ?? "",
    deliveries: Number(msg?.header.get("Codflow-Dlq-Deliveries") ?? 0),
    reason: msg?.header.get("Codflow-Dlq-Reason") ?? "",
    eventId,
    eventType,
  };
}

/** The dead letters still in the stream, oldest first (`limit` of them at most). */
export async function listDeadLetters(broker: Broker, { limit = 100 }: { limit?: number } = {}) {
  const name = streamName(broker.namespace, "deadletter");
  const info = await broker.jsm.streams.info(name).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
    throw new Error(
      `no dead-letter stream ${name}: has a service run with NATS_NAMESPACE=${broker.namespace}?`,
    );
  });
  const letters: DeadLetter[] = [];
  for (
    let seq = info.state.first_seq;
    seq <= info.state.last_seq && letters.length < limit;
    seq++
  ) {
    const msg = await broker.jsm.streams.getMessage(name, { seq }).catch(() => null);
    if (msg) letters.push(describe(seq, msg));
  }
  return { total: info.state.messages, letters };
}

/**
 * Publishes a dead letter again to the subject it failed on — with its original headers (trace
 * context included) and a fresh message id — then removes it from the dead-letter stream. Every
 * consumer of that subject sees it; the ones that had applied it already skip it (inbox).
 */
export async function replayDeadLetter(broker: Broker, seq: number) {
  const name = streamName(broker.namespace, "deadletter");
  const msg = await broker.jsm.streams.getMessage(name, { seq }).catch(() => null);
  if (!msg) throw new Error(`no dead letter with sequence ${seq} in ${name}`);
  const letter = describe(seq, msg);
  if (!letter.originalSubject.startsWith(`${broker.namespace}.`)) {
    throw new Error(`dead letter ${seq} names no subject of namespace ${broker.namespace}`);
  }
  const h = natsHeaders();
  for (const [key, values] of msg.header) {
    if (!DLQ_HEADERS.includes(key) && key !== "Nats-Msg-Id")
      for (const v of values) h.append(key, v);
  }
  h.set("Codflow-Replayed-From", `${name}:${seq}`);
  await broker.js.publish(letter.originalSubject, msg.data, {
    headers: h,
    msgID: `${letter.eventId ?? seq}:replay:${seq}`,
  });
  await broker.jsm.streams.deleteMessage(name, seq);
  return letter;
}

export { deadLetterSubject };
