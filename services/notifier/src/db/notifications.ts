import { type Sql, type TxSql, wakeAfterCommit } from "@codflow/shared";
import { v7 as uuidv7 } from "uuid";
import type { RenderedEmail, TemplateName } from "../domain/templates.ts";

/** The channel the mailer LISTENs on (queuing outside this process's own transactions NOTIFYs it). */
export const NOTIFICATIONS_CHANNEL = "codflow_notifications";

export interface NewNotification {
  eventId: string;
  /** The checkout the email is about; null for emails about none. */
  checkoutId: string | null;
  template: TemplateName;
  recipient: string | null;
  email: RenderedEmail;
}

/**
 * Queues emails in one statement, each at most once per (event, template) whatever the broker
 * redelivers, and at most once per (checkout, template) even when an outcome is re-emitted
 * under a new event id: `on conflict do nothing` without a target lets either unique
 * constraint make it a no-op, also against an earlier row of the same call (rows go in in the
 * given order, so the first wins). An email with no address is recorded as `skipped`. This
 * process's mailer wakes once the transaction commits (a transaction inTransaction did not open
 * NOTIFYs instead: see after-commit.ts for why not always).
 */
export async function queueNotifications(tx: TxSql, notifications: readonly NewNotification[]) {
  const notify = !wakeAfterCommit(tx, NOTIFICATIONS_CHANNEL);
  await tx`
    with queued as (
      insert into notifications (id, event_id, checkout_id, template, recipient, subject,
                                 body_text, status, last_error)
      select n.id, n.event_id, n.checkout_id, n.template, n.recipient, n.subject, n.body_text,
             case when n.recipient is null then 'skipped' else 'pending' end,
             case when n.recipient is null then 'no email address' end
      from unnest(
        ${notifications.map(() => uuidv7())}::uuid[],
        ${notifications.map((n) => n.eventId)}::uuid[],
        ${notifications.map((n) => n.checkoutId)}::uuid[],
        ${notifications.map((n) => n.template)}::text[],
        ${notifications.map((n) => n.recipient || null)}::text[],
        ${notifications.map((n) => n.email.subject)}::text[],
        ${notifications.map((n) => n.email.text)}::text[]
      ) with ordinality
        as n(id, event_id, checkout_id, template, recipient, subject, body_text, position)
      order by n.position
      on conflict do nothing
      returning 1
    )
    select ${notify ? tx`pg_notify(${NOTIFICATIONS_CHANNEL}, '')` : tx`1`}
    where exists (select 1 from queued)`;
}

/** Queues one email (see queueNotifications). */
export const queueNotification = (tx: TxSql, notification: NewNotification) =>
  queueNotifications(tx, [notification]);

export interface ClaimedNotification {
  id: string;
  template: TemplateName;
  recipient: string;
  subject: string;
  bodyText: string;
  attempts: number;
}

/**
 * Claims up to `batchSize` due emails in one statement: the oldest due first, rows another
 * mailer holds are skipped (SKIP LOCKED), and each claimed row gets a lease and one more
 * attempt. A mailer that dies mid-send loses its lease after `leaseSeconds` and another sends.
 */
export function claimDueNotifications(
  sql: Sql,
  { batchSize, leaseSeconds }: { batchSize: number; leaseSeconds: number },
) {
  return sql<ClaimedNotification[]>`
    with due as (
      select id from notifications
      where status = 'pending' and next_attempt_at <= now()
        and (locked_until is null or locked_until < now())
      order by next_attempt_at
      limit ${batchSize}
      for update skip locked
    )
    update notifications n
    set locked_until = now() + make_interval(secs => ${leaseSeconds}), attempts = n.attempts + 1
    from due where n.id = due.id
    returning n.id, n.template, n.recipient, n.subject, n.body_text as "bodyText", n.attempts`;
}

export async function markSent(sql: Sql, ids: string[]) {
  if (ids.length === 0) return;
  await sql`
    update notifications set status = 'sent', sent_at = now(), locked_until = null, last_error = null
    where id = any(${ids}::uuid[])`;
}

/** Records failed attempts in one statement: each row back to `pending` after its delay, or `failed`. */
export async function markFailedAttempts(
  sql: Sql,
  failures: { id: string; status: "pending" | "failed"; retryInMs: number; error: string }[],
) {
  if (failures.length === 0) return;
  await sql`
    update notifications n
    set status = f.status,
        next_attempt_at = now() + f.retry_in_ms * interval '1 millisecond',
        locked_until = null,
        last_error = f.error
    from unnest(
      ${failures.map((f) => f.id)}::uuid[],
      ${failures.map((f) => f.status)}::text[],
      ${failures.map((f) => f.retryInMs)}::bigint[],
      ${failures.map((f) => f.error)}::text[]
    ) as f(id, status, retry_in_ms, error)
    where n.id = f.id`;
}
