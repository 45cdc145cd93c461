import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { connect, type NatsConnection, nanos } from "@nats-io/transport-node";
import { createLogger, type Logger } from "../log.ts";

export interface Broker {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  namespace: string;
  /** Replicas of every stream this service creates (NATS_STREAM_REPLICAS). */
  streamReplicas: number;
  close(): Promise<void>;
}

/** The contexts that own a stream each, plus the dead-letter stream. */
export const STREAM_CONTEXTS = ["checkout", "inventory", "orders", "deadletter"] as const;
export type StreamContext = (typeof STREAM_CONTEXTS)[number];

export const subjectFor = (namespace: string, type: string) => `${namespace}.${type}`;
export const streamName = (namespace: string, context: StreamContext) =>
  `${namespace}_${context}`.toUpperCase();
export const deadLetterSubject = (namespace: string, consumer: string) =>
  `${namespace}.deadletter.${consumer}`;

/**
 * Deletes a namespace's streams, and with them their consumers: what a test or a benchmark run
 * leaves on a shared broker otherwise (each e2e stack's four streams and ~30 consumers). A stream
 * already gone is skipped.
 */
export async function deleteNamespaceStreams(jsm: JetStreamManager, namespace: string) {
  for (const context of STREAM_CONTEXTS) {
    await jsm.streams.delete(streamName(namespace, context)).catch((err: unknown) => {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) {
        throw err;
      }
    });
  }
}

/** deleteNamespaceStreams over a connection of its own to `url`, closed afterwards. */
export async function deleteNamespaceStreamsAt(url: string, namespace: string) {
  const broker = await connectBroker({
    url,
    namespace,
    name: "namespace-cleanup",
    logger: createLogger({ service: "namespace-cleanup", level: "silent" }),
  });
  try {
    await deleteNamespaceStreams(broker.jsm, namespace);
  } finally {
    await broker.close();
  }
}

/** How long JetStream de-duplicates by Nats-Msg-Id; published outbox rows live far longer. */
export const DUPLICATE_WINDOW_MS = 2 * 60_000;

export async function connectBroker({
  url,
  namespace,
  name,
  logger,
}: {
  url: string;
  namespace: string;
  name: string;
  logger: Logger;
}): Promise<Broker> {
  const nc = await connect({
    servers: url.split(","),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // Without it nats.js builds two Errors (a stack trace each) for every request, a JetStream
    // publish included, in case it times out: 5 % of inventory's CPU under load (bench
    // --cpu-prof). A timeout still fails the call with a TimeoutError (the relay records it on
    // the outbox rows and logs it); only the stack of the code that made the request is lost.
    noAsyncTraces: true,
  });
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect" || status.type === "reconnect" || status.type === "error") {
        logger.warn({ natsStatus: status.type }, "nats connection status changed");
      }
    }
  })();
  const jsm = await jetstreamManager(nc);
  return {
    nc,
    jsm,
    js: jetstream(nc),
    namespace,
    streamReplicas: 1,
    close: async () => {
      if (!nc.isClosed()) await nc.drain();
    },
  };
}

/**
 * Creates or updates the streams. Every service calls this at start and whenever a consumer
 * finds its stream gone, so even a broker rebuilt empty heals itself.
 */
export async function ensureStreams(
  broker: Broker,
  { replicas = broker.streamReplicas }: { replicas?: number } = {},
) {
  for (const context of STREAM_CONTEXTS) {
    const config = {
      name: streamName(broker.namespace, context),
      subjects: [`${broker.namespace}.${context}.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: nanos(context === "deadletter" ? 30 * 86_400_000 : 7 * 86_400_000),
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      num_replicas: replicas,
    };
    try {
      await broker.jsm.streams.info(config.name);
      await broker.jsm.streams.update(config.name, config);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await broker.jsm.streams.add(config).catch((addErr: unknown) => {
        if (!String(addErr).includes("already in use")) throw addErr;
      });
    }
  }
}

export function isNotFound(err: unknown): boolean {
  const text = String((err as Error)?.message ?? err);
  return text.includes("not found") || (err as { code?: number })?.code === 404;
}

/** The stream holding an event type's subject: its context's stream. */
export const contextStream = (namespace: string, type: string) =>
  streamName(namespace, type.slice(0, type.indexOf(".")) as StreamContext);
