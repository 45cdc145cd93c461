import { Batcher, type Sql } from "@codflow/shared";
import type { Env } from "hono";
import type { ClientRateLimitInfo, HonoConfigType, Store } from "hono-rate-limiter";

/**
 * hono-rate-limiter's store over checkout's Postgres, so every replica counts the same hits.
 * The hits of one event-loop turn are counted with ONE statement: an upsert of each key with its
 * number of hits that starts a fresh window when the stored one has passed, else adds them, and
 * returns each key's count and window end; the key's requests then get consecutive counts, as
 * one statement per request would have given them. Keys go in sorted, so two replicas' upserts
 * lock shared keys in the same order. It commits without waiting for the WAL flush
 * (`synchronous_commit` off for its own implicit transaction): a crash may forget a few hits,
 * which a rate limit can afford, and the request does not pay an fsync for them.
 */
export class PostgresRateLimitStore<E extends Env = Env> implements Store<E> {
  localKeys = false;
  #windowMs = 60_000;
  #hits = new Batcher<string, ClientRateLimitInfo>((keys) => this.#count(keys), {
    concurrency: Number.POSITIVE_INFINITY,
    maxSize: Number.POSITIVE_INFINITY,
  });

  constructor(
    private readonly sql: Sql,
    readonly prefix: string,
  ) {}

  init(options: HonoConfigType<E>) {
    this.#windowMs = options.windowMs;
  }

  increment(key: string): Promise<ClientRateLimitInfo> {
    return this.#hits.add(this.prefix + key);
  }

  async #count(hits: string[]): Promise<PromiseSettledResult<ClientRateLimitInfo>[]> {
    const perKey = new Map<string, number>();
    for (const key of hits) perKey.set(key, (perKey.get(key) ?? 0) + 1);
    const keys = [...perKey.keys()].sort();
    const rows = await this.sql<{ key: string; hits: number; resetAtMs: number }[]>`
      insert into rate_limit_hits as r (key, hits, reset_at)
      select u.key, u.n, now() + make_interval(secs => ${this.#windowMs / 1000})
      from unnest(${keys}::text[], ${keys.map((k) => perKey.get(k) ?? 0)}::int[]) as u(key, n),
           (select set_config('synchronous_commit', 'off', true)) as no_fsync
      order by u.key
      on conflict (key) do update
      set hits = case when r.reset_at <= now() then excluded.hits else r.hits + excluded.hits end,
          reset_at = case when r.reset_at <= now() then excluded.reset_at else r.reset_at end
      returning r.key, r.hits, (extract(epoch from r.reset_at) * 1000)::float8 as "resetAtMs"`;
    const counted = new Map(rows.map((row) => [row.key, row]));
    const later = new Map(perKey); // hits of the key still to answer, this one included
    return hits.map((key) => {
      const row = counted.get(key);
      const left = later.get(key) ?? 1;
      later.set(key, left - 1);
      if (!row) {
        return {
          status: "rejected",
          reason: new Error(`rate limit upsert returned no row for ${key}`),
        };
      }
      const info = { totalHits: row.hits - (left - 1), resetTime: new Date(row.resetAtMs) };
      return { status: "fulfilled", value: info };
    });
  }

  async decrement(key: string) {
    await this.sql`
      update rate_limit_hits set hits = greatest(hits - 1, 0)
      where key = ${this.prefix + key} and reset_at > now()`;
  }

  async resetKey(key: string) {
    await this.sql`delete from rate_limit_hits where key = ${this.prefix + key}`;
  }
}

/** Windows that have passed are dead weight; the next hit of their client starts afresh anyway. */
export async function deleteExpiredRateLimits(sql: Sql) {
  const rows = await sql`
    delete from rate_limit_hits
    where key in (select key from rate_limit_hits where reset_at < now() limit 1000)
    returning 1`;
  return rows.length;
}
