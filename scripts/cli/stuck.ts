import type { ReadOnlySql } from "./databases.ts";

export interface StuckCheckout {
  id: string;
  createdAt: string;
  ageSeconds: number;
  redrives: number;
  lastProgressAt: string;
  secondsSinceProgress: number;
}

/** Checkouts still `processing` that were accepted more than `olderThanSeconds` ago, oldest first. */
export async function listStuck(
  sql: ReadOnlySql,
  { olderThanSeconds, limit = 1000 }: { olderThanSeconds: number; limit?: number },
): Promise<StuckCheckout[]> {
  const rows = await sql<
    {
      id: string;
      created_at: Date;
      age: number;
      redrives: number;
      last_progress_at: Date;
      since_progress: number;
    }[]
  >`
    select id, created_at, extract(epoch from now() - created_at)::float8 as age, redrives,
           last_progress_at, extract(epoch from now() - last_progress_at)::float8 as since_progress
    from checkouts
    where status = 'processing' and created_at < now() - make_interval(secs => ${olderThanSeconds})
    order by created_at, id
    limit ${limit}`;
  return rows.map((r) => ({
    id: r.id,
    createdAt: r.created_at.toISOString(),
    ageSeconds: Math.round(r.age * 10) / 10,
    redrives: r.redrives,
    lastProgressAt: r.last_progress_at.toISOString(),
    secondsSinceProgress: Math.round(r.since_progress * 10) / 10,
  }));
}

export function formatStuck(rows: StuckCheckout[], olderThanSeconds: number): string {
  if (rows.length === 0) return `no checkout processing for more than ${olderThanSeconds}s`;
  return [
    `${rows.length} checkout(s) processing for more than ${olderThanSeconds}s:`,
    ...rows.map(
      (r) =>
        `  ${r.id}  age ${r.ageSeconds}s  redrives ${r.redrives}  last progress ${r.lastProgressAt} (${r.secondsSinceProgress}s ago)`,
    ),
  ].join("\n");
}
