import { onAfterCommitError } from "./after-commit.ts";
import type { BaseConfig } from "./config.ts";
import { createDatabase, type Database } from "./db.ts";
import type { LivenessCheck, ReadinessCheck } from "./http/app.ts";
import { createTokenVerifier, type TokenVerifier } from "./http/auth.ts";
import { createLogger, type Logger } from "./log.ts";
import type { ConsumerDeps, RunningConsumer } from "./messaging/consume.ts";
import { type Broker, connectBroker, ensureStreams } from "./messaging/nats.ts";
import { startOutboxRelay } from "./messaging/relay.ts";
import { startStreamWatch } from "./messaging/stream-watch.ts";
import type { WorkerLoop } from "./messaging/worker-loop.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { readShippedMigrations, schemaReadiness } from "./schema-readiness.ts";
import { type Stop, startHttpServer, stopOnSignals } from "./service.ts";
import { oldestDbCall, startTelemetry } from "./telemetry.ts";

/** What every service stands on; `main.ts` builds it once and passes it down. */
export interface Platform {
  config: BaseConfig;
  logger: Logger;
  metrics: Metrics;
  database: Database;
  broker: Broker;
  verifyToken: TokenVerifier;
  relay: WorkerLoop;
  streamWatch: WorkerLoop;
  consumerDeps: ConsumerDeps;
  readiness: ReadinessCheck[];
  liveness: LivenessCheck;
  shutdownTelemetry: Stop;
}

/**
 * `migrationsFolder` is the service's drizzle-kit folder (`new URL("./db/migrations",
 * import.meta.url)` from main.ts, in the sources and in the build alike): readiness reports
 * `schema: "behind: …"` until the database has every migration in it.
 */
export async function startPlatform(
  config: BaseConfig,
  { migrationsFolder }: { migrationsFolder: string | URL },
): Promise<Platform> {
  const shippedMigrations = readShippedMigrations(migrationsFolder);
  const telemetry = startTelemetry({
    service: config.SERVICE_NAME,
    endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
  const logger = createLogger({ service: config.SERVICE_NAME, level: config.LOG_LEVEL });
  onAfterCommitError((err) =>
    logger.warn({ err }, "after-commit work failed; the pollers will catch up"),
  );
  const metrics = createMetrics(config.SERVICE_NAME);
  const database = createDatabase(config.DATABASE_URL, { max: config.DATABASE_POOL_MAX, logger });
  const broker = await connectBroker({
    url: config.NATS_URL,
    namespace: config.NATS_NAMESPACE,
    name: config.SERVICE_NAME,
    logger,
  });
  broker.streamReplicas = config.NATS_STREAM_REPLICAS;
  await ensureStreams(broker);
  metrics.observePlatform({ sql: database.sql, broker, logger });
  const relay = startOutboxRelay({
    sql: database.sql,
    broker,
    logger,
    metrics,
    leaseSeconds: config.OUTBOX_LEASE_SECONDS,
    markDelayMs: config.OUTBOX_MARK_DELAY_MS,
  });
  const streamWatch = startStreamWatch({
    sql: database.sql,
    broker,
    logger,
    metrics,
    replayWindowSeconds: config.OUTBOX_REPLAY_WINDOW_SECONDS,
    intervalMs: config.STREAM_WATCH_INTERVAL_MS,
  });
  return {
    config,
    logger,
    metrics,
    database,
    broker,
    verifyToken: createTokenVerifier({
      secret: config.AUTH_JWT_SECRET,
      jwksUrl: config.AUTH_JWKS_URL,
    }),
    relay,
    streamWatch,
    consumerDeps: {
      sql: database.sql,
      broker,
      logger,
      metrics,
      defaults: {
        maxDeliver: config.CONSUMER_MAX_DELIVER,
        ackWaitMs: config.CONSUMER_ACK_WAIT_MS,
        baseBackoffMs: config.CONSUMER_BACKOFF_BASE_MS,
        batchSize: config.CONSUMER_BATCH_SIZE,
        lingerMs: config.CONSUMER_LINGER_MS,
      },
    },
    readiness: [
      { name: "postgres", check: () => database.sql`select 1` },
      {
        name: "nats",
        check: async () => {
          if (broker.nc.isClosed()) throw new Error("connection closed");
          await broker.nc.flush();
        },
      },
      schemaReadiness(database.sql, shippedMigrations),
    ],
    liveness: dbCallWatchdog(config.LIVENESS_MAX_DB_CALL_SECONDS),
    shutdownTelemetry: telemetry.shutdown,
  };
}

/**
 * Serves the app and wires SIGTERM: fail readiness and keep serving for the drain delay, end
 * long-lived responses (SSE, waits) so the listener can close, stop taking requests, drain
 * consumers (finish the batch in hand, ack it), stop background workers and the relay, then
 * close NATS and Postgres.
 */
export async function runService(
  platform: Platform,
  {
    app,
    consumers = [],
    workers = [],
    streams = [],
  }: {
    app: { fetch: (req: Request) => Response | Promise<Response> };
    consumers?: RunningConsumer[];
    workers?: Pick<WorkerLoop, "stop">[];
    /** Long-lived responses to end before the HTTP listener waits for open requests. */
    streams?: { close(): Promise<void> | void }[];
  },
) {
  const { config, logger } = platform;
  const http = await startHttpServer(app, { port: config.PORT, host: config.HOST, logger });
  stopOnSignals(
    logger,
    [
      async () => {
        await Promise.all(streams.map((s) => s.close()));
      },
      http.stop,
      () => Promise.all(consumers.map((c) => c.stop())).then(() => {}),
      () => Promise.all(workers.map((w) => w.stop())).then(() => {}),
      platform.streamWatch.stop,
      platform.relay.stop,
      platform.broker.close,
      platform.database.close,
      platform.shutdownTelemetry,
    ],
    {
      graceMs: config.SHUTDOWN_GRACE_MS,
      drainDelayMs: config.SHUTDOWN_DRAIN_DELAY_MS,
      drain: http.drain,
    },
  );
  logger.info({ port: http.port }, `${config.SERVICE_NAME} started`);
  return http;
}

/**
 * Liveness: fails, saying which call, while a database call (`inDbSpan`, every `inTransaction`)
 * has been in flight longer than `maxSeconds`; 0 never fails. Seen once after a PostgreSQL
 * restart: a driver bug left orders' pool waiting forever while `/healthz` kept answering ok.
 */
export function dbCallWatchdog(maxSeconds: number): LivenessCheck {
  return () => {
    const oldest = oldestDbCall();
    if (!oldest || maxSeconds === 0) return undefined;
    const seconds = (Date.now() - oldest.since) / 1000;
    return seconds > maxSeconds
      ? `database call "${oldest.name}" in flight for ${Math.floor(seconds)} s (limit ${maxSeconds} s)`
      : undefined;
  };
}
