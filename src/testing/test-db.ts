import { randomBytes } from 'node:crypto'
import { Db } from '../db.js'
import type { DbOptions } from '../connect-options.js'
import { loadAppMigrations } from '../migration-sources.js'
import { admin, withDatabase } from './server-admin.js'
import { embeddedTestDb } from './pglite-snapshot.js'
import { createFromTemplate } from './server-template.js'
import { ValidationError } from '../errors.js'

/** The created database's name is `<prefix>_<pid>_<random>`, used unquoted in CREATE DATABASE. */
const PREFIX_RE = /^[a-z_][a-z0-9_]{0,40}$/

/** Options of {@link createTestDb}. */
export interface TestDbOptions extends Omit<DbOptions, 'url' | 'migrate' | 'dataDir' | 'pglite'> {
  /**
   * A server to create the test database on (any database of it; its credentials must allow
   * CREATE DATABASE). Defaults to `TEST_DATABASE_URL`; without either, embedded PGlite is used.
   */
  url?: string
  /** Prefix of the created database's name. Default `amdb_test`. */
  prefix?: string
  /**
   * Reuse migrated copies (default true): the PGlite snapshot on disk, the server's template
   * database. `false` migrates every test database from scratch (seconds on PGlite): for a
   * migration whose effect depends on more than its own code (see the README).
   */
  cache?: boolean
  /**
   * PGlite: the folder of migrated snapshots. Default `AUTOMAGIK_DB_CACHE_DIR`, else
   * `node_modules/.cache/automagik-db` of the nearest `node_modules`, else the OS temp folder.
   */
  cacheDir?: string
}

/**
 * A migrated Db for a test run — our migrations and the app's `migrations`, which `migrate()`
 * and `migrationStatus()` of the returned Db know too. On a server, a fresh database, dropped
 * on `close()`: a copy of a migrated template database (`amdb_tpl_…`, one per set of
 * migrations; spare copies are made ahead for the next caller). Otherwise an in-memory PGlite
 * started from a migrated snapshot kept on disk (see `cacheDir`). Only the first call for a set
 * of migrations pays for migrating. Share one per test file and give each test a transaction
 * ({@link withRollback}, {@link rollbackEach} or the vitest fixture).
 *
 * @example
 * ```ts
 * const testDb = await createTestDb() // TEST_DATABASE_URL or PGlite
 * afterAll(() => testDb.close())       // drops the database
 * ```
 */
export async function createTestDb<Tables = {}>(options: TestDbOptions = {}): Promise<Db<Tables>> {
  const { url = process.env.TEST_DATABASE_URL, prefix = 'amdb_test', cache = true, cacheDir, migrations, ...rest } = options
  // Loaded once here: the fingerprint and the Db use the same record.
  const app = await loadAppMigrations(migrations)
  if (rest.embedded || !url) {
    return embeddedTestDb<Tables>({ ...rest, cacheDir: cache ? cacheDir : false }, app)
  }
  if (!PREFIX_RE.test(prefix)) {
    throw new ValidationError(
      [{ field: 'prefix', messages: ['must be lower-case letters, digits and _ (at most 41), starting with a letter or _'] }],
      'createTestDb',
    )
  }

  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
  let spare: Promise<void> = Promise.resolve()
  if (cache) ({ spare } = await createFromTemplate(url, name, app, rest))
  else await admin(url, `CREATE DATABASE ${name}`)
  const drop = async () => {
    await spare // the next caller's copy, being made meanwhile
    await admin(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  }
  let db: Db<Tables>
  try {
    // With the cache no migration runs: the copy holds them (a template is named once migrated).
    db = await Db.connect<Tables>({ ...rest, url: withDatabase(url, name), migrations: app, migrate: !cache })
  } catch (err) {
    await drop().catch(() => undefined)
    throw err
  }
  Db.onClose(db, drop)
  return db
}
