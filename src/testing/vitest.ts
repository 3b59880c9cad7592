import type { Db } from '../db.js'
import { runThenRollBack } from './rollback.js'

/**
 * A vitest fixture giving each test a Db bound to its own transaction, rolled back when the test
 * ends (passed, failed or threw). vitest is not a dependency: this is only a function of the shape
 * `test.extend` expects.
 *
 * Inside a test, use the fixture's `db`, not the shared test Db: on embedded PGlite (one
 * connection) a query on the shared Db waits for the connection the test's transaction holds,
 * until `connectTimeout`. Tests of one file that run concurrently are serialised on PGlite and
 * isolated from each other on a server.
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
export function dbFixture(source: Db | (() => Db | Promise<Db>)) {
  // vitest reads the fixture's first parameter to learn its dependencies: it must be `{}`.
  return async ({}: object, use: (db: Db) => Promise<void>): Promise<void> => {
    const root = typeof source === 'function' ? await source() : source
    const handle = await root.startTransaction()
    await runThenRollBack(handle, () => use(handle.db))
  }
}
