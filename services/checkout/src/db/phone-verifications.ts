import type { TxSql } from "@codflow/shared";

/**
 * What the resend rule needs about the codes already sent to the customer. The caller holds the
 * customer's profile lock, so two concurrent requests cannot both pass the rule.
 */
export async function recentCodeSends(tx: TxSql, customerId: string) {
  const [row] = await tx<
    { lastSentAt: string | null; sentInLastHour: number; oldestInLastHourAt: string | null }[]
  >`
    select max(created_at) as "lastSentAt",
           count(*) filter (where created_at > now() - interval '1 hour')::int as "sentInLastHour",
           min(created_at) filter (where created_at > now() - interval '1 hour')
             as "oldestInLastHourAt"
    from phone_verifications where customer_id = ${customerId}`;
  const toDate = (v: string | null | undefined) => (v ? new Date(v) : null);
  return {
    lastSentAt: toDate(row?.lastSentAt),
    sentInLastHour: row?.sentInLastHour ?? 0,
    oldestInLastHourAt: toDate(row?.oldestInLastHourAt),
  };
}

export async function insertPhoneVerification(
  tx: TxSql,
  v: {
    id: string;
    customerId: string;
    phone: string;
    salt: string;
    hash: string;
    ttlSeconds: number;
  },
) {
  const [row] = await tx<{ expiresAt: string }[]>`
    insert into phone_verifications (id, customer_id, phone, code_salt, code_hash, expires_at)
    values (${v.id}, ${v.customerId}, ${v.phone}, ${v.salt}, ${v.hash},
            now() + make_interval(secs => ${v.ttlSeconds}))
    returning expires_at as "expiresAt"`;
  return new Date(row?.expiresAt as string);
}

/** The customer's newest code, locked: the one a confirmation is judged against. */
export async function lockNewestVerification(tx: TxSql, customerId: string) {
  const [row] = await tx<
    {
      id: string;
      phone: string;
      salt: string;
      hash: string;
      attempts: number;
      expiresAt: string;
      verifiedAt: string | null;
    }[]
  >`
    select id, phone, code_salt as salt, code_hash as hash, attempts,
           expires_at as "expiresAt", verified_at as "verifiedAt"
    from phone_verifications where customer_id = ${customerId}
    order by created_at desc limit 1
    for update`;
  return row && { ...row, expiresAt: new Date(row.expiresAt), verified: row.verifiedAt !== null };
}

export async function countWrongAttempt(tx: TxSql, id: string) {
  await tx`update phone_verifications set attempts = attempts + 1 where id = ${id}`;
}

export async function markCodeUsed(tx: TxSql, id: string) {
  await tx`update phone_verifications set verified_at = now() where id = ${id}`;
}
