import { v7 as uuidv7 } from "uuid";
import { DEV_JWT_SECRET } from "../config.ts";
import { createDatabase } from "../db.ts";
import { type Envelope, type EventData, type EventType, eventCatalog } from "../events/index.ts";
import { createTokenVerifier } from "../http/auth.ts";
import { createLogger } from "../log.ts";
import {
  connectBroker,
  deleteNamespaceStreams,
  ensureStreams,
  subjectFor,
} from "../messaging/nats.ts";
import { createMetrics } from "../metrics.ts";
import { createTestDatabase } from "./database.ts";
import { uniqueNamespace } from "./namespace.ts";

export const TEST_NATS_URL = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";

/**
 * An event as its producer's relay would publish it. The correlation id defaults to the
 * checkout the data names, else the event's own id.
 */
export function makeEnvelope<T extends EventType>(
  type: T,
  data: EventData<T>,
  { correlationId }: { correlationId?: string } = {},
): Envelope<T, EventData<T>> {
  const id = uuidv7();
  return {
    id,
    type,
    version: eventCatalog[type].version,
    occurredAt: new Date().toISOString(),
    correlationId: correlationId ?? (data as { checkoutId?: string }).checkoutId ?? id,
    causationId: null,
    data,
  };
}

/**
 * What one test file of `service` stands on: a database of its own (copied from the service's
 * migrated template), a NATS namespace of its own with the streams in it, a logger that is
 * silent unless TEST_LOG_LEVEL says otherwise, metrics, and a verifier for `signToken` tokens.
 * `close()` stops whatever was `track`ed, deletes the namespace's streams and drops the database.
 *
 * @example const platform = await startTestPlatform("orders"); … await platform.close();
 */
export async function startTestPlatform(
  service: string,
  { poolMax = 6 }: { poolMax?: number } = {},
) {
  const testDb = await createTestDatabase(service);
  const logger = createLogger({
    service: `${service}-test`,
    level: process.env.TEST_LOG_LEVEL ?? "silent",
  });
  const metrics = createMetrics(`${service}-test`);
  const database = createDatabase(testDb.url, { max: poolMax });
  const namespace = uniqueNamespace(service);
  const broker = await connectBroker({
    url: TEST_NATS_URL,
    namespace,
    name: `${service}-test`,
    logger,
  });
  await ensureStreams(broker);
  metrics.observePlatform({ sql: database.sql, broker, logger });
  const tracked: { stop(): Promise<void> }[] = [];

  /** Publishes an input event as its producer's relay would (Msg-Id = event id); returns it. */
  async function publish<T extends EventType>(
    type: T,
    data: EventData<T>,
    {
      envelope,
      msgID,
      correlationId,
    }: { envelope?: Envelope<T, EventData<T>>; msgID?: string; correlationId?: string } = {},
  ) {
    const sent = envelope ?? makeEnvelope(type, data, { correlationId });
    await broker.js.publish(subjectFor(namespace, type), JSON.stringify(sent), {
      msgID: msgID ?? sent.id,
    });
    return sent;
  }

  return {
    sql: database.sql,
    db: database.db,
    database,
    databaseUrl: testDb.url,
    broker,
    namespace,
    logger,
    metrics,
    consumerDeps: { sql: database.sql, broker, logger, metrics },
    verifyToken: createTokenVerifier({ secret: DEV_JWT_SECRET }),
    publish,

    /** Publishes an event again under a fresh Msg-Id, as a re-drive would after de-duplication. */
    redeliver: <T extends EventType>(envelope: Envelope<T, EventData<T>>) =>
      publish(envelope.type, envelope.data, { envelope, msgID: uuidv7() }),

    /** The current value of counter `name` for exactly these labels (0 when never incremented). */
    async counter(name: string, labels: Record<string, string>) {
      const metric = metrics.registry.getSingleMetric(name);
      const values = metric ? (await metric.get()).values : [];
      const found = values.find((v) =>
        Object.entries(labels).every(
          ([k, want]) => (v.labels as Record<string, unknown>)[k] === want,
        ),
      );
      return found?.value ?? 0;
    },

    /** Has `close()` stop a consumer, relay or worker started on this platform. */
    track<S extends { stop(): Promise<void> }>(running: S): S {
      tracked.push(running);
      return running;
    },

    async close() {
      await Promise.all(tracked.splice(0).map((running) => running.stop()));
      await deleteNamespaceStreams(broker.jsm, namespace);
      await broker.close();
      await database.close();
      await testDb.drop();
    },
  };
}

export type TestPlatform = Awaited<ReturnType<typeof startTestPlatform>>;
