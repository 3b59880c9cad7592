import { randomBytes } from 'node:crypto'
import { Db } from '../db.js'
import type { DbOptions } from '../connect-options.js'
import { admin, withDatabase } from './server-admin.js'
import { ValidationError } from '../errors.js'

/** The created database's name is `<prefix>_<pid>_<random>`, used unquoted in CREATE DATABASE. */
const PREFIX_RE = /^[a-z_][a-z0-9_]{0,40}$/

/** Options of {@link createTestDb}. */
export interface TestDbOptions extends Omit<DbOptions, 'url' | 'migrate' | 'dataDir'> {
  /**
   * A server to create the test database on (any database of it; its credentials must allow
   * CREATE DATABASE). Defaults to `TEST_DATABASE_URL`; without either, embedded PGlite is used.
   */
  url?: string
  /** Prefix of the created database's name. Default `amdb_test`. */
  prefix?: string
}

/**
 * A migrated Db for a test run: on a server, a fresh database that is created now and dropped
 * on `close()`; otherwise an embedded in-memory PGlite. Starting either costs time (PGlite: a few
 * seconds), so share one per test file or worker and give each test a transaction
 * ({@link withRollback}, {@link rollbackEach} or the vitest fixture).
 *
 * @example
 * ```ts
 * const testDb = await createTestDb() // TEST_DATABASE_URL or PGlite
 * afterAll(() => testDb.close())       // drops the database
 * ```
 */
export async function createTestDb(options: TestDbOptions = {}): Promise<Db> {
  const { url = process.env.TEST_DATABASE_URL, prefix = 'amdb_test', ...rest } = options
  if (rest.embedded || !url) return Db.connect({ ...rest, embedded: true, migrate: true })
  if (!PREFIX_RE.test(prefix)) {
    throw new ValidationError(
      [{ field: 'prefix', messages: ['must be lower-case letters, digits and _ (at most 41), starting with a letter or _'] }],
      'createTestDb',
    )
  }

  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
  await admin(url, `CREATE DATABASE ${name}`)
  let db: Db
  try {
    db = await Db.connect({ ...rest, url: withDatabase(url, name), migrate: true })
  } catch (err) {
    await admin(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined)
    throw err
  }
  Db.onClose(db, () => admin(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  return db
}
