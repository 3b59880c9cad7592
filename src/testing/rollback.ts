import { Db } from '../db.js'
import { DataLayerError } from '../errors.js'
import type { TransactionHandle } from '../db.js'

/**
 * Runs `fn` with a Db bound to a transaction that is always rolled back, and returns what `fn`
 * returned (or rethrows what it threw). Code under test that calls `db.transaction()` gets a
 * savepoint inside it, so it works unchanged. On embedded PGlite, a query on the root Db inside
 * `fn` fails fast with `SELF_DEADLOCK` (use `tx`).
 *
 * @example
 * ```ts
 * await withRollback(db, async (tx) => {
 *   await new SignupService(tx).signUp({ email: 'ada@example.com' })
 *   expect(await tx.users.getByEmail('ada@example.com')).not.toBeNull()
 * }) // nothing is left in the database
 * ```
 */
export async function withRollback<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  const handle = await db.startTransaction()
  return runThenRollBack(handle, () => Db.inTransactionScope(handle.db, () => fn(handle.db)))
}

/**
 * Runs `body`, then rolls `handle` back whatever happened. When both fail, the body's error wins:
 * it is the one that explains the failure.
 */
export async function runThenRollBack<T>(handle: TransactionHandle, body: () => Promise<T>): Promise<T> {
  let result: T
  try {
    result = await body()
  } catch (err) {
    if (handle.isOpen) await handle.rollback().catch(() => undefined)
    throw err
  }
  await handle.rollback()
  return result
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
 * A query on the Db from `begin()` after `end()` fails with TransactionClosedError.
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
  let current: TransactionHandle | undefined
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
