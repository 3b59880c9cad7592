import { Db } from '../../src/index.js'
import { createTestDb, type TestDbOptions } from '../../src/testing/index.js'

/** The backend this run of the suite targets: `npm test` → pglite, `npm run test:pg` → postgres. */
export const backend: 'pglite' | 'postgres' = process.env.AMDB_TEST_BACKEND === 'postgres' ? 'postgres' : 'pglite'

/** The server the postgres run uses (a fresh database is created on it per test file). */
export const serverUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** A migrated Db on this run's backend; close it in afterAll (drops the server database). */
export function openTestDb(options: TestDbOptions = {}): Promise<Db> {
  return backend === 'postgres'
    ? createTestDb({ url: serverUrl, ...options })
    : createTestDb({ ...options, embedded: true })
}
