import type { Db } from '../db.js'
import { DataLayerError } from '../errors.js'

/**
 * Runs `fn` with a Db bound to a transaction that is always rolled back, and returns what `fn`
 * returned (or rethrows what it threw). Code under test that calls `db.transaction()` gets a
 * savepoint inside it, so it works unchanged.
 *
 * @example
 * ```ts
 * await withRollback(db, async (tx) => {
 *   await new SignupService(tx).signUp('ada@example.com')
 *   expect(await tx.users.getByEmail('ada@example.com')).not.toBeNull()
 * }) // nothing is left in the database
 * ```
 */
export async function withRollback<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  const handle = await db.startTransaction()
  try {
    return await fn(handle.db)
  } finally {
    await handle.rollback()
  }
}

/** The begin/end pair of {@link rollbackEach}. */
export interface RollbackEach {
  /** Opens the test's transaction and returns a Db bound to it. */
  begin(): Promise<Db>
  /** Rolls the test's transaction back (safe to call when begin failed or never ran). */
  end(): Promise<void>
}

/**
 * A transaction per test for any runner: call `begin()` in beforeEach and `end()` in afterEach.
 *
 * @example
 * ```ts
 * const each = rollbackEach(testDb)
 * let db: Db
 * beforeEach(async () => { db = await each.begin() })
 * afterEach(() => each.end())
 * ```
 */
export function rollbackEach(db: Db): RollbackEach {
  let current: Awaited<ReturnType<Db['startTransaction']>> | undefined
  return {
    async begin() {
      if (current?.isOpen) {
        throw new DataLayerError('rollbackEach: begin() called twice without end()', { code: 'MISUSE' })
      }
      current = await db.startTransaction()
      return current.db
    },
    async end() {
      const handle = current
      current = undefined
      if (handle?.isOpen) await handle.rollback()
    },
  }
}
