/**
 * Opens one backend for the benchmark: the contenders' pools, Kysely, Drizzle and automagik-db,
 * all on the same data, and a close() that undoes everything (the server database is dropped).
 *
 * - server: a scratch database `amdb_bench_<pid>` created on BENCH_DATABASE_URL and migrated
 *   with automagik-db's `db.migrate()`. Every contender gets its own pool of 10 connections.
 * - pglite: PGlite is one in-process session, and automagik-db's Db owns its instance (it does
 *   not take a PGlite from outside). The other contenders share a second PGlite instance,
 *   migrated with automagik-db's migrator and seeded with the same deterministic SQL, behind one
 *   `pg.Pool` of 1 built with `createPgConfig` from '@electric-sql/pglite/node-postgres' —
 *   the same adapter automagik-db itself uses. Drizzle runs on that second instance through its
 *   own pglite driver: its node-postgres driver passes a type-parser object as `types`, which
 *   PGlite's node-postgres adapter serialises as parameter types and throws on, and the half-written
 *   message left in pg-protocol's shared writer then corrupts the next query of every PGlite
 *   instance in the process ("invalid message format").
 */
import pg from 'pg'
import { Kysely, PostgresDialect } from 'kysely'
import { drizzle } from 'drizzle-orm/node-postgres'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { Db } from '../../src/index.js'
import { embeddedExtensions } from '../../src/embedded-extensions.js'
import type { Database } from '../../src/generated/database.js'
import { createMigrator, unwrapMigrationResult } from '../../src/migrator.js'
import { admin, withDatabase } from '../../src/testing/server-admin.js'
import { schema } from './drizzle-schema.js'
import type { BackendName, BenchOptions } from './options.js'
import { baseSeedSql, seedInfo } from './seed.js'
import { probeCopy } from './workloads/bulk.js'
import type { AmdbUnderTest, BenchContext } from './types.js'

export const POOL_SIZE = 10

export interface OpenBackend {
  ctx: BenchContext
  /** Server version string, for the report. */
  version: string
  close(): Promise<void>
}

type Log = (line: string) => void

export function openBackend(name: BackendName, options: BenchOptions, log: Log, onCleanup: (fn: () => Promise<void>) => void): Promise<OpenBackend> {
  return name === 'server' ? openServer(options, log, onCleanup) : openPglite(options, log, onCleanup)
}

async function openServer(options: BenchOptions, log: Log, onCleanup: (fn: () => Promise<void>) => void): Promise<OpenBackend> {
  const database = `amdb_bench_${process.pid}`
  const url = withDatabase(options.serverUrl, database)
  const target = `${new URL(options.serverUrl).host}/${database}`
  let dropped = false
  const closers: (() => Promise<unknown>)[] = []
  const close = async () => {
    for (const fn of closers.splice(0).reverse()) await fn().catch((err) => log(`  (close: ${err})`))
    if (!dropped) {
      dropped = true
      await admin(options.serverUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
      log(`  dropped database ${target}`)
    }
  }
  // Registered before CREATE DATABASE, so a Ctrl-C at any point after it still drops it.
  onCleanup(close)
  await admin(options.serverUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  await admin(options.serverUrl, `CREATE DATABASE ${database}`)
  log(`  created database ${target}`)

  const connectAmdb = async (id: string, label: string, extra: Parameters<typeof Db.connect>[0] = {}): Promise<AmdbUnderTest> => {
    const db = await Db.connect({ url, poolSize: POOL_SIZE, idleTimeout: 0, ...extra })
    closers.push(() => db.close())
    return { id, label, db }
  }
  const amdb = await connectAmdb('automagik-db', 'automagik-db repository method (defaults: named statements, 30 s statement timeout)')
  const applied = await amdb.db.migrate()
  log(`  migrated with db.migrate(): ${applied.join(', ')}`)

  const newPool = () => {
    const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE, idleTimeoutMillis: 0 })
    pool.on('error', () => undefined)
    return pool
  }
  const raw = newPool()
  const prepared = newPool()
  closers.push(() => raw.end(), () => prepared.end())
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool: newPool() }) })
  closers.push(() => kysely.destroy())
  const drizzlePool = newPool()
  closers.push(() => drizzlePool.end())

  // Workload 1's telemetry pair: two fresh Dbs that differ only in `telemetry` (the default Db
  // above also ran the migrations, so its connections are not a like-for-like baseline).
  const untraced = [
    await connectAmdb('amdb-otel-api', 'automagik-db, telemetry on (the default): @opentelemetry/api installed, no SDK registered'),
    await connectAmdb('amdb-no-telemetry', 'automagik-db, telemetry: false (OpenTelemetry off)', { telemetry: false }),
  ]
  const variants: AmdbUnderTest[] = []
  if (options.variants) {
    variants.push(await connectAmdb('amdb-unnamed', 'automagik-db, preparedStatements: false', { preparedStatements: false }))
    variants.push(await connectAmdb('amdb-no-timeout', 'automagik-db, statementTimeout: 0 (no client-side deadline)', { statementTimeout: 0 }))
  }

  const seed = seedInfo(options.scale)
  const execAll = async (statement: string) => {
    await raw.query(statement)
  }
  const t0 = Date.now()
  for (const statement of baseSeedSql(seed)) await execAll(statement)
  log(`  seeded ${seed.agents} agents, ${seed.users} users, ${seed.sessions} sessions, ${seed.messages} messages in ${((Date.now() - t0) / 1000).toFixed(1)} s`)

  const copyError = await probeCopy({ raw }, seed.bulkSession)
  const notes = [`Every contender has its own pg.Pool of ${POOL_SIZE} connections to ${target}.`]
  if (copyError) notes.push(`COPY FROM STDIN unavailable: ${copyError}`)
  const version = (await raw.query('SHOW server_version')).rows[0].server_version as string

  return {
    ctx: {
      backend: 'server',
      scale: options.scale,
      raw,
      prepared,
      kysely,
      drizzle: drizzle({ client: drizzlePool, schema }),
      amdb,
      variants,
      untraced,
      execAll,
      seed,
      copyAvailable: copyError === null,
      notes,
    },
    version: `PostgreSQL ${version}`,
    close,
  }
}

async function openPglite(options: BenchOptions, log: Log, onCleanup: (fn: () => Promise<void>) => void): Promise<OpenBackend> {
  const [{ PGlite }, { createPgConfig }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite/node-postgres'),
  ])
  const closers: (() => Promise<unknown>)[] = []
  const close = async () => {
    for (const fn of closers.splice(0).reverse()) await fn().catch((err) => log(`  (close: ${err})`))
  }
  onCleanup(close)

  const db = await Db.connect({ embedded: true })
  closers.push(() => db.close())
  const applied = await db.migrate()
  log(`  automagik-db's PGlite migrated with db.migrate(): ${applied.join(', ')}`)

  // The same extensions (pgvector, pg_trgm) automagik-db's own embedded open loads.
  const lite = await PGlite.create({ extensions: await embeddedExtensions() })
  closers.push(() => lite.close())
  const shared = new pg.Pool({ ...(createPgConfig(lite) as unknown as pg.PoolConfig), max: 1, idleTimeoutMillis: 0 })
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool: shared }) })
  closers.push(() => kysely.destroy()) // ends `shared`
  unwrapMigrationResult(await createMigrator(kysely).migrateToLatest())
  log(`  second PGlite (raw pg / Kysely / Drizzle) migrated with automagik-db's migrator`)

  if (options.variants) log('  --variants: not run on PGlite (each variant would need its own seeded instance)')

  const seed = seedInfo(options.scale)
  const execAll = async (statement: string) => {
    await db.query(statement)
    await shared.query(statement)
  }
  const t0 = Date.now()
  for (const statement of baseSeedSql(seed)) await execAll(statement)
  log(`  seeded both instances: ${seed.agents} agents, ${seed.users} users, ${seed.sessions} sessions, ${seed.messages} messages in ${((Date.now() - t0) / 1000).toFixed(1)} s`)

  // Not probed: COPY … FROM STDIN through the node-postgres adapter aborts the PGlite instance
  // (WASM exit(1)), so the bulk workload's baseline on PGlite is raw pg unnest.
  const copyError = 'COPY FROM STDIN through the node-postgres adapter terminates PGlite (WASM exit(1)); not run'
  const notes = [
    'automagik-db runs on its own PGlite instance (Db.connect({ embedded: true })); raw pg, pg-prepared, Kysely ' +
      'and Drizzle share a second PGlite instance with the same seeded data through one pg.Pool of 1 built with ' +
      "createPgConfig from '@electric-sql/pglite/node-postgres' (the adapter automagik-db uses internally).",
    "Drizzle runs on the second instance through drizzle-orm/pglite (its node-postgres driver's prepared statements " +
      "pass a `types` object that PGlite's node-postgres adapter cannot serialise); .prepare()d, but unnamed in PGlite.",
    'PGlite runs in this process: its query execution is JavaScript/WASM time on the same thread as the client.',
  ]
  notes.push(`Workload 9: ${copyError}. The baseline there is raw pg unnest.`)
  const version = (await shared.query('SELECT version()')).rows[0].version as string

  return {
    ctx: {
      backend: 'pglite',
      scale: options.scale,
      raw: shared,
      prepared: shared,
      kysely,
      drizzle: drizzlePglite({ client: lite, schema }),
      amdb: { id: 'automagik-db', label: 'automagik-db repository method (defaults)', db },
      variants: [],
      execAll,
      seed,
      copyAvailable: copyError === null,
      notes,
    },
    version: `PGlite (${version.split(',')[0]})`,
    close,
  }
}
