import type { Sql } from "@codflow/shared";
import type { Env } from "hono";
import type { ClientRateLimitInfo, HonoConfigType, Store } from "hono-rate-limiter";

/**
 * hono-rate-limiter's store over checkout's Postgres, so every replica counts the same hits.
 * Each hit is ONE statement: the upsert starts a fresh window when the stored one has passed,
 * else adds one, and returns the count and the window's end. It commits without waiting for the
 * WAL flush (`synchronous_commit` off for its own implicit transaction): a crash may forget a
 * few hits, which a rate limit can afford, and the request does not pay an fsync for them.
 */
export class PostgresRateLimitStore<E extends Env = Env> implements Store<E> {
  localKeys = false;
  #windowMs = 60_000;

  constructor(
    private readonly sql: Sql,
    readonly prefix: string,
  ) {}

  init(options: HonoConfigType<E>) {
    this.#windowMs = options.windowMs;
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    const [row] = await this.sql<{ hits: number; resetAtMs: number }[]>`
      insert into rate_limit_hits as r (key, hits, reset_at)
      select ${this.prefix + key}, 1, now() + make_interval(secs => ${this.#windowMs / 1000})
      from (select set_config('synchronous_commit', 'off', true)) as no_fsync
      on conflict (key) do update
      set hits = case when r.reset_at <= now() then 1 else r.hits + 1 end,
          reset_at = case when r.reset_at <= now() then excluded.reset_at else r.reset_at end
      returning hits, (extract(epoch from reset_at) * 1000)::float8 as "resetAtMs"`;
    if (!row) throw new Error("rate limit upsert returned no row");
    return { totalHits: row.hits, resetTime: new Date(row.resetAtMs) };
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
