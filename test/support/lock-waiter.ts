import type { Db } from '../../src/index.js'

/**
 * Waits until a backend of `db`'s database waits for a lock (server only): the moment a
 * statement of another connection is blocked on a row this test holds.
 */
export async function waitForLockWaiter(db: Db, what = 'a statement to wait for the locked row'): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const [row] = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    if (row!.n > 0) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}
