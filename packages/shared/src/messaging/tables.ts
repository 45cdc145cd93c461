import { sql } from "drizzle-orm";
import {
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";

/**
 * Events written in the same transaction as the state change that caused them; the relay
 * publishes unpublished rows and keeps published ones for OUTBOX_RETENTION so a duplicate
 * input can re-send them (DESIGN.md: the broker is not the source of truth). Ids are UUIDv7, so
 * the primary key orders rows by creation: retention and the stream watch's replay find old and
 * recent rows by id, and publishing maintains no index of its own (each one costs every row
 * an entry on insert and on every update).
 */
export const outbox = pgTable(
  "outbox",
  {
    id: uuid("id").primaryKey(),
    subject: text("subject").notNull(),
    type: text("type").notNull(),
    envelope: jsonb("envelope").notNull(),
    headers: jsonb("headers").$type<Record<string, string>>().notNull().default({}),
    correlationId: text("correlation_id").notNull(),
    causationId: uuid("causation_id"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    publishedAt: timestamp("published_at", { withTimezone: true }),
    lockedUntil: timestamp("locked_until", { withTimezone: true }),
    attempts: integer("attempts").notNull().default(0),
    /** Times a duplicate input re-sent this row; part of its Nats-Msg-Id so the broker takes it. */
    resends: integer("resends").notNull().default(0),
    lastError: text("last_error"),
  },
  (t) => [
    index("outbox_unpublished_idx").on(t.createdAt).where(sql`${t.publishedAt} is null`),
    index("outbox_causation_idx").on(t.causationId),
    index("outbox_correlation_idx").on(t.correlationId),
  ],
);

/** One row per (consumer, event) whose effects committed: the exactly-once guard. */
export const inbox = pgTable(
  "inbox",
  {
    consumer: text("consumer").notNull(),
    eventId: uuid("event_id").notNull(),
    processedAt: timestamp("processed_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.consumer, t.eventId] })],
);
