import { Db } from '../db.js'
import { DataLayerError } from '../errors.js'
import type { TransactionHandle } from '../db.js'
import { fixtureBody, fixtureOpening } from '../execution/fixture-guard.js'

/**
 * Runs `fn` with a Db bound to a transaction that is always rolled back, and returns what `fn`
 * returned (or rethrows what it threw). Code under test that calls `db.transaction()` gets a
 * savepoint inside it, so it works unchanged. While `fn` runs, a query on the root Db `db` fails
 * at once with MisuseError instead of escaping the rollback (code `MISUSE`; on embedded PGlite,
 * `SELF_DEADLOCK` when it comes from inside `fn`): pass `tx` to the code under test.
 *
 * @example
 * ```ts
 * await withRollback(db, async (tx) => {
 *   await new SignupService(tx).signUp({ email: 'ada@example.com' })
 *   expect(await tx.users.getByEmail('ada@example.com')).not.toBeNull()
 * }) // nothing is left in the database
 * ```
 */
export async function withRollback<T, Tables = {}>(db: Db<Tables>, fn: (tx: Db<Tables>) => Promise<T>): Promise<T> {
  const handle = await openFixture(db)
  return runThenRollBack(handle, () => Db.inTransactionScope(handle.db, fixtureBody(() => fn(handle.db))))
}

/**
 * Opens a test fixture's transaction on `db`: allowed while other fixtures' transactions are open
 * (concurrent tests), when the root Db refuses every other query.
 *
 * @example
 * ```ts
 * const handle = await openFixture(testDb)
 * await runThenRollBack(handle, () => Db.inTransactionScope(handle.db, fixtureBody(() => use(handle.db))))
 * ```
 */
export function openFixture<Tables>(db: Db<Tables>): Promise<TransactionHandle<Tables>> {
  return Db.inTransactionScope(db, fixtureOpening(() => db.startTransaction()))
}

/**
 * Runs `body`, then rolls `handle` back whatever happened. When both fail, the body's error wins:
 * it is the one that explains the failure.
 */
export async function runThenRollBack<T>(handle: TransactionHandle<any>, body: () => Promise<T>): Promise<T> {
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
export interface RollbackEach<Tables = {}> {
  /** Opens the test's transaction and returns a Db bound to it. */
  begin(): Promise<Db<Tables>>
  /** Rolls the test's transaction back (safe to call when begin failed or never ran). */
  end(): Promise<void>
}

/**
 * A transaction per test for any runner: call `begin()` in beforeEach and `end()` in afterEach.
 * A query on the Db from `begin()` after `end()` fails with TransactionClosedError. Between
 * `begin()` and `end()` the test's transaction counts as a fixture: a query on the root Db `db`
 * (the test, or code under test, reaching for it instead of the Db from `begin()`) fails at once
 * with MisuseError instead of escaping the rollback. So clean up through the Db from `begin()`, or
 * after `end()`.
 *
 * @example
 * ```ts
 * const each = rollbackEach(testDb)
 * let db: Db
 * beforeEach(async () => { db = await each.begin() })
 * afterEach(() => each.end())
 * ```
 */
export function rollbackEach<Tables = {}>(db: Db<Tables>): RollbackEach<Tables> {
  let current: { handle: TransactionHandle<Tables>; letGo: () => void; registered: Promise<void> } | undefined
  return {
    async begin() {
      if (current?.handle.isOpen) {
        throw new DataLayerError('rollbackEach: begin() called twice without end()', { code: 'MISUSE' })
      }
      current?.letGo() // its transaction ended some other way (a lost connection): let its registration go
      const handle = await openFixture(db)
      // The test runs between begin() and end(), outside any call of ours: its transaction stays
      // registered as a fixture until end() lets go.
      let letGo!: () => void
      const until = new Promise<void>((resolve) => (letGo = resolve))
      const registered = Db.inTransactionScope(handle.db, fixtureBody(() => until))
      current = { handle, letGo, registered }
      return handle.db
    },
    async end() {
      const ending = current
      current = undefined
      if (ending === undefined) return
      ending.letGo()
      await ending.registered
      if (ending.handle.isOpen) await ending.handle.rollback()
    },
  }
}
