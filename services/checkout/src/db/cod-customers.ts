import type { Sql, TxSql } from "@codflow/shared";

/** drizzle makes postgres.js return timestamps as text ("2026-01-02 03:04:05.678+00"). */
const toIso = (value: Date | string | null) =>
  value === null ? null : new Date(value).toISOString();

export interface CodProfileRow {
  customerId: string;
  verifiedPhone: string | null;
  phoneVerifiedAt: string | null;
  codDisabled: boolean;
  disabledReason: string | null;
  disabledAt: string | null;
  disabledBy: string | null;
  incidentsCountedSince: string | null;
}

/**
 * Creates the customer's COD profile if missing and locks it until the transaction ends: every
 * decision about one customer's COD standing (accepting a checkout against the active-order
 * limit, switching COD off or on) runs under this lock, so concurrent ones take turns.
 */
export async function lockCodProfile(tx: TxSql, customerId: string): Promise<CodProfileRow> {
  return toProfile(await lockProfileRow(tx, customerId));
}

export interface CodFacts {
  profile: CodProfileRow;
  activeOrders: number;
  hasConfirmedCodOrder: boolean;
}

/**
 * `lockCodProfile` for each customer, then the facts the COD rules read under those locks
 * (active orders, an earlier confirmed COD order), by customer id. The facts are a statement of
 * their own on purpose: a statement that waited for a lock still reads with the snapshot it took
 * before waiting, so counting in the locking statement would miss the slot the lock's previous
 * holder just took.
 */
export async function lockCodProfilesWithFacts(
  tx: TxSql,
  customers: readonly {
    customerId: string;
    /** The row, when an earlier statement of `tx` already locked it (claimKeysWithCarts does). */
    locked?: ProfileDbRow;
  }[],
): Promise<Map<string, CodFacts>> {
  const profiles = new Map<string, CodProfileRow>();
  const inCustomerOrder = [...customers].sort((a, b) => (a.customerId < b.customerId ? -1 : 1));
  for (const { customerId, locked } of inCustomerOrder) {
    profiles.set(customerId, locked ? toProfile(locked) : await lockCodProfile(tx, customerId));
  }
  const ids = [...profiles.keys()];
  const facts = await tx<
    { customerId: string; activeOrders: number; hasConfirmedCodOrder: boolean }[]
  >`
    select u.customer_id as "customerId",
           (select count(*)::int from cod_active_orders a where a.customer_id = u.customer_id)
             as "activeOrders",
           exists (select 1 from checkouts c
                   where c.customer_id = u.customer_id and c.status = 'confirmed')
             as "hasConfirmedCodOrder"
    from unnest(${ids}::text[]) as u(customer_id)`;
  const factsOf = new Map(facts.map((row) => [row.customerId, row]));
  return new Map(
    [...profiles].map(([customerId, profile]): [string, CodFacts] => {
      const { activeOrders = 0, hasConfirmedCodOrder = false } = factsOf.get(customerId) ?? {};
      return [customerId, { profile, activeOrders, hasConfirmedCodOrder }];
    }),
  );
}

/** The profile row, locked; created first only when missing (the hot path has it already). */
async function lockProfileRow(tx: TxSql, customerId: string) {
  let [row] = await selectProfileForUpdate(tx, customerId);
  if (!row) {
    await tx`insert into cod_customers (customer_id) values (${customerId}) on conflict do nothing`;
    [row] = await selectProfileForUpdate(tx, customerId);
  }
  if (!row) throw new Error(`cod profile of ${customerId} vanished under its lock`);
  return row;
}

function selectProfileForUpdate(tx: TxSql, customerId: string) {
  return tx<ProfileDbRow[]>`
    select ${profileColumns(tx)} from cod_customers where customer_id = ${customerId}
    for update`;
}

/** The columns of a `ProfileDbRow`, as a fragment for a select on `cod_customers`. */
export const profileColumns = (tx: TxSql) => tx`
  customer_id as "customerId", verified_phone as "verifiedPhone",
  phone_verified_at as "phoneVerifiedAt", cod_disabled as "codDisabled",
  disabled_reason as "disabledReason", disabled_at as "disabledAt",
  disabled_by as "disabledBy", incidents_counted_since as "incidentsCountedSince"`;

export type ProfileDbRow = Omit<
  CodProfileRow,
  "phoneVerifiedAt" | "disabledAt" | "incidentsCountedSince"
> & {
  phoneVerifiedAt: string | null;
  disabledAt: string | null;
  incidentsCountedSince: string | null;
};

const toProfile = (row: ProfileDbRow): CodProfileRow => ({
  ...row,
  phoneVerifiedAt: toIso(row.phoneVerifiedAt),
  disabledAt: toIso(row.disabledAt),
  incidentsCountedSince: toIso(row.incidentsCountedSince),
});

/** Frees a checkout's slot (failed, delivered, cancelled, returned); a second call does nothing. */
export async function releaseActiveOrderSlot(tx: TxSql, checkoutId: string) {
  await tx`delete from cod_active_orders where checkout_id = ${checkoutId}`;
}

export async function markPhoneVerified(tx: TxSql, customerId: string, phone: string) {
  await tx`
    insert into cod_customers (customer_id, verified_phone, phone_verified_at)
    values (${customerId}, ${phone}, now())
    on conflict (customer_id) do update
    set verified_phone = excluded.verified_phone, phone_verified_at = excluded.phone_verified_at,
        updated_at = now()`;
}

export interface CodSwitch {
  customerId: string;
  from: boolean;
  to: boolean;
  reason: string;
  actor: string;
  actorRole: string;
  data?: Record<string, unknown>;
}

/**
 * Sets the customer's COD switch and appends the audit row, in the caller's transaction (which
 * holds the profile lock). Turning COD back on is a lift: incidents before now stop counting.
 */
export async function switchCod(tx: TxSql, s: CodSwitch) {
  await tx`
    update cod_customers
    set cod_disabled = ${s.to},
        disabled_reason = case when ${s.to} then ${s.reason} else null end,
        disabled_at = case when ${s.to} then now() else null end,
        disabled_by = case when ${s.to} then ${s.actor} else null end,
        incidents_counted_since = case when ${s.to} then incidents_counted_since else now() end,
        updated_at = now()
    where customer_id = ${s.customerId}`;
  await tx`
    insert into cod_audit (customer_id, actor, actor_role, from_disabled, to_disabled, reason, data)
    values (${s.customerId}, ${s.actor}, ${s.actorRole}, ${s.from}, ${s.to}, ${s.reason},
            ${s.data ? JSON.stringify(s.data) : null}::jsonb)`;
}

export interface CodAuditRow {
  actor: string;
  role: string;
  at: string;
  from: { codDisabled: boolean };
  to: { codDisabled: boolean };
  reason: string;
  data: Record<string, unknown> | null;
}

/** The customer's profile as ops see it, with its audit trail (oldest first). */
export async function loadCodProfileView(sql: Sql | TxSql, customerId: string) {
  const [profile] = await sql<(ProfileDbRow & { activeOrders: number })[]>`
    select ${customerId} as "customerId", p.verified_phone as "verifiedPhone",
           p.phone_verified_at as "phoneVerifiedAt", coalesce(p.cod_disabled, false) as "codDisabled",
           p.disabled_reason as "disabledReason", p.disabled_at as "disabledAt",
           p.disabled_by as "disabledBy", p.incidents_counted_since as "incidentsCountedSince",
           (select count(*)::int from cod_active_orders where customer_id = ${customerId})
             as "activeOrders"
    from (select 1) one left join cod_customers p on p.customer_id = ${customerId}`;
  const audit = await sql<
    {
      actor: string;
      role: string;
      at: string;
      fromDisabled: boolean;
      toDisabled: boolean;
      reason: string;
      data: Record<string, unknown> | null;
    }[]
  >`
    select actor, actor_role as role, at, from_disabled as "fromDisabled",
           to_disabled as "toDisabled", reason, data
    from cod_audit where customer_id = ${customerId} order by id`;
  const p = toProfile(profile as ProfileDbRow);
  return {
    customerId,
    codDisabled: p.codDisabled,
    disabledReason: p.disabledReason,
    disabledAt: p.disabledAt,
    disabledBy: p.disabledBy,
    phoneVerified: p.verifiedPhone !== null,
    phoneVerifiedAt: p.phoneVerifiedAt,
    incidentsCountedSince: p.incidentsCountedSince,
    activeOrders: profile?.activeOrders ?? 0,
    audit: audit.map(
      (a): CodAuditRow => ({
        actor: a.actor,
        role: a.role,
        at: toIso(a.at) as string,
        from: { codDisabled: a.fromDisabled },
        to: { codDisabled: a.toDisabled },
        reason: a.reason,
        data: a.data,
      }),
    ),
  };
}

export type CodProfileView = Awaited<ReturnType<typeof loadCodProfileView>>;

/**
 * Records one incident per order (a second failed attempt or the later return of the same order
 * adds nothing) and returns when each of the customer's incidents happened.
 */
export async function recordCodIncident(
  tx: TxSql,
  i: { orderId: string; customerId: string; kind: "delivery_failed" | "returned"; at: string },
) {
  await tx`
    insert into cod_incidents (order_id, customer_id, kind, occurred_at)
    values (${i.orderId}, ${i.customerId}, ${i.kind}, ${i.at})
    on conflict do nothing`;
  const rows = await tx<{ occurredAt: string }[]>`
    select occurred_at as "occurredAt" from cod_incidents where customer_id = ${i.customerId}`;
  return rows.map((r) => new Date(r.occurredAt));
}
