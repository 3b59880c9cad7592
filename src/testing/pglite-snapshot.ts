import { dirname, join } from 'node:path'
import type { Migration } from 'kysely/migration'
import { Db } from '../db.js'
import { embeddedExtensions } from '../embedded-extensions.js'
import type { DbOptions } from '../connect-options.js'
import { coreMigrations, migrationsFingerprint } from '../migration-sources.js'
import { APP_MIGRATION_TABLE, MIGRATION_TABLE } from '../migrator.js'
import { cacheDirectory, pgliteVersion, pruneCache, readIfPresent, removeQuietly, touch, writeAtomically } from './snapshot-cache.js'

/** Bumped when the snapshot's content or naming changes, so older files are never read. */
const SNAPSHOT_FORMAT = 2

/**
 * PGlite settings of a test database. shared_buffers: 16 MB instead of 128 MB, which PGlite
 * zeroes at every start (half its start-up time; the data is in memory anyway). The snapshot is
 * built with 1 MB WAL segments instead of 16 MB, a smaller file to load.
 */
const START_SETTINGS = ['-c', 'shared_buffers=16MB', '-c', 'min_wal_size=2MB']
const INITDB_SETTINGS = ['--wal-segsize=1']

/** Options of {@link embeddedTestDb}: Db options for the embedded database, and the cache. */
export interface EmbeddedTestDbOptions extends Omit<DbOptions, 'url' | 'dataDir' | 'migrate' | 'migrations' | 'embedded'> {
  /** The snapshot folder (see {@link cacheDirectory}), or false to migrate from scratch. */
  cacheDir?: string | false
}

/**
 * The snapshot file for these migrations: named by the PGlite version and the fingerprint of
 * our migrations plus the app's, so a change to either makes (and uses) another file.
 *
 * @example
 * ```ts
 * snapshotFile('/cache', {}) // '/cache/pglite-0.5.16-2-3f2a…(32 hex).tar'
 * ```
 */
export function snapshotFile(dir: string, app: Readonly<Record<string, Migration>>): string {
  const fingerprint = migrationsFingerprint(coreMigrations, app).slice(0, 32)
  return join(dir, `pglite-${pgliteVersion()}-${SNAPSHOT_FORMAT}-${fingerprint}.tar`)
}

/**
 * A migrated in-memory PGlite Db, started from the cached snapshot of a database on which these
 * same migrations ran (a `dumpDataDir()` tarball, loaded in a fraction of the time migrating
 * takes). Without a usable snapshot, the database is migrated from scratch and its snapshot
 * written for the next caller. An unreadable or corrupt snapshot is deleted and rebuilt; a cache
 * that cannot be written only costs speed.
 *
 * @example
 * ```ts
 * const db = await embeddedTestDb({}, await loadAppMigrations('./migrations'))
 * ```
 */
export async function embeddedTestDb<Tables>(
  options: EmbeddedTestDbOptions,
  app: Readonly<Record<string, Migration>>,
): Promise<Db<Tables>> {
  const { cacheDir, ...dbOptions } = options
  const { PGlite } = await import('@electric-sql/pglite')
  const file = cacheDir === false ? undefined : snapshotFile(cacheDirectory(cacheDir), app)

  const tarball = file === undefined ? undefined : await readIfPresent(file)
  if (file !== undefined && tarball !== undefined) {
    const db = await fromSnapshot<Tables>(tarball, dbOptions, app, PGlite).catch(() => undefined)
    if (db !== undefined) {
      await touch(file) // its age in the cache counts from its last use
      return db
    }
    await removeQuietly(file)
  }

  const pglite = await PGlite.create({ extensions: await embeddedExtensions(), initDbStartParams: INITDB_SETTINGS, startParams: [...PGlite.defaultStartParams, ...START_SETTINGS] })
  let db: Db<Tables>
  try {
    // PGlite serves one database: template0 and template1 are a third of the files to load.
    for (const template of ['template0', 'template1']) {
      await pglite.exec(`ALTER DATABASE ${template} IS_TEMPLATE false`)
      await pglite.exec(`DROP DATABASE ${template}`)
    }
    db = await Db.connect<Tables>({ ...dbOptions, embedded: true, pglite, migrations: app, migrate: true })
  } catch (err) {
    if (!pglite.closed) await pglite.close().catch(() => undefined)
    throw err
  }
  if (file !== undefined) {
    try {
      // A checkpoint first: the snapshot then starts without replaying the migrations' WAL.
      await db.query('CHECKPOINT')
      const dump = await pglite.dumpDataDir('none')
      if (await writeAtomically(file, new Uint8Array(await dump.arrayBuffer()))) await pruneCache(dirname(file), file)
    } catch {
      // Only the next caller's speed depends on the snapshot.
    }
  }
  return db
}

/**
 * Starts PGlite from the snapshot and checks it holds exactly these migrations (a cheap read of
 * the two migration tables; a snapshot that fails to load or to match is rebuilt by the caller).
 */
async function fromSnapshot<Tables>(
  tarball: Buffer,
  options: Omit<EmbeddedTestDbOptions, 'cacheDir'>,
  app: Readonly<Record<string, Migration>>,
  PGlite: typeof import('@electric-sql/pglite').PGlite,
): Promise<Db<Tables>> {
  const pglite = await PGlite.create({ extensions: await embeddedExtensions(), loadDataDir: new TarballBlob(tarball), startParams: [...PGlite.defaultStartParams, ...START_SETTINGS] })
  try {
    const applied = async (table: string) => (await pglite.query<{ name: string }>(`SELECT name FROM ${table} ORDER BY name`)).rows.map((r) => r.name)
    const expected = (set: Readonly<Record<string, Migration>>) => Object.keys(set).sort()
    const same = (a: string[], b: string[]) => a.length === b.length && a.every((name, i) => name === b[i])
    const complete =
      same(await applied(MIGRATION_TABLE), expected(coreMigrations)) &&
      (Object.keys(app).length === 0 || same(await applied(APP_MIGRATION_TABLE), expected(app)))
    if (!complete) throw new Error('the snapshot holds other migrations')
    return await Db.connect<Tables>({ ...options, embedded: true, pglite, migrations: app })
  } catch (err) {
    if (!pglite.closed) await pglite.close().catch(() => undefined)
    throw err
  }
}

/**
 * A Blob over bytes already in memory, whose `arrayBuffer()` hands them over without the copy
 * Node's Blob makes through a stream (over a second, for a 30 MB tarball, on a busy machine).
 */
class TarballBlob extends Blob {
  readonly #bytes: Buffer

  constructor(bytes: Buffer) {
    super([])
    this.#bytes = bytes
  }

  override async arrayBuffer(): Promise<ArrayBuffer> {
    const b = this.#bytes
    // readFile gives the file its own ArrayBuffer; a pooled slice is copied out.
    const whole = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength
    return (whole ? b.buffer : b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)) as ArrayBuffer
  }
}
