import { Db } from '../db.js'
import { fixtureBody } from '../execution/fixture-guard.js'
import { openFixture, runThenRollBack } from './rollback.js'

/**
 * A vitest fixture giving each test a Db bound to its own transaction, rolled back when the test
 * ends (passed, failed or threw). vitest is not a dependency: this is only a function of the shape
 * `test.extend` expects.
 *
 * Inside a test, use the fixture's `db`, not the shared test Db: while the test's transaction is
 * open, a query on the shared Db fails at once with MisuseError (on a server it would run outside
 * the test's transaction and its writes would outlive the test). That includes `afterEach` hooks,
 * which vitest runs before the fixture ends: clean up through `db` there, or in `afterAll`. Tests
 * of one file that run concurrently are serialised on PGlite and isolated from each other on a
 * server.
 *
 * @example
 * ```ts
 * import { test as base, afterAll } from 'vitest'
 * const testDb = await createTestDb()
 * afterAll(() => testDb.close())
 * const test = base.extend<{ db: Db }>({ db: dbFixture(testDb) })
 * test('signs up', async ({ db }) => { … })
 * ```
 */
export function dbFixture<Tables = {}>(source: Db<Tables> | (() => Db<Tables> | Promise<Db<Tables>>)) {
  // vitest reads the fixture's first parameter to learn its dependencies: it must be `{}`.
  return async ({}: object, use: (db: Db<Tables>) => Promise<void>): Promise<void> => {
    const root = typeof source === 'function' ? await source() : source
    const handle = await openFixture(root)
    await runThenRollBack(handle, () => Db.inTransactionScope(handle.db, fixtureBody(() => use(handle.db))))
  }
}
