import type { Kysely } from 'kysely'
import type { Scope } from './execution/scope.js'
import { Migrator, type Migration, type MigrationResultSet, type MigrationInfo } from 'kysely/migration'
import { sql } from 'kysely'
import { coreMigrations, type MigrationOwner } from './migration-sources.js'
import { translateError } from './pg-errors.js'
import { MigrationError } from './errors.js'
import { ensureSearchIndexes } from './search/search-indexes.js'

/** The table in which Kysely records applied migrations. */
export const MIGRATION_TABLE = 'automagik_migration'
/** The lock table Kysely uses so that two processes never migrate at once. */
export const MIGRATION_LOCK_TABLE = 'automagik_migration_lock'

/** The tables in which the app's own migrations are recorded, apart from ours. */
export const APP_MIGRATION_TABLE = 'automagik_app_migration'
export const APP_MIGRATION_LOCK_TABLE = 'automagik_app_migration_lock'

/** One migration, whose it is, and whether it has been applied. */
export interface MigrationStatus {
  name: string
  /** `automagik-db` for the package's own migrations, `app` for those passed to Db.connect. */
  owner: MigrationOwner
  executedAt: Date | null
}

/**
 * Builds the Kysely migrator over the package's migrations (default), or over an app's
 * migrations tracked in their own tables, with those tables in `schema`.
 *
 * @example
 * ```ts
 * const { error } = await createMigrator(kysely).migrateToLatest()
 * ```
 */
export function createMigrator(
  db: Kysely<any>,
  schema?: string,
  app?: Readonly<Record<string, Migration>>,
): Migrator {
  const list = app ?? coreMigrations
  return new Migrator({
    db,
    ...(schema ? { migrationTableSchema: schema } : {}),
    provider: { getMigrations: async () => list },
    migrationTableName: app ? APP_MIGRATION_TABLE : MIGRATION_TABLE,
    migrationLockTableName: app ? APP_MIGRATION_LOCK_TABLE : MIGRATION_LOCK_TABLE,
  })
}

/** The package's migrator and, when the app passed migrations, the app's. */
export interface Migrators {
  core: Migrator
  app: Migrator | undefined
  /** App migrations recorded in the database (read when the app passed none). */
  recordedApp(): Promise<MigrationStatus[]>
  /** The migrations' connection, search_path at the scope's schema. */
  kysely: Kysely<any>
}

/**
 * Applies ours, then the app's; returns the names applied.
 *
 * @example
 * ```ts
 * await runMigrator(scope, app, migrateLatest)
 * ```
 */
export async function migrateLatest(m: Migrators): Promise<string[]> {
  const applied = unwrapMigrationResult(await m.core.migrateToLatest())
  // Extensions installed after migration 0003 (pg_trgm, pgvector): their indexes are built now.
  await ensureSearchIndexes(m.kysely)
  if (m.app) applied.push(...unwrapMigrationResult(await m.app.migrateToLatest()))
  return applied
}

/**
 * Reverts the latest applied migration, whoever owns it (on a tie, the app's: it ran after ours).
 *
 * @example
 * ```ts
 * await runMigrator(scope, app, migrateDownLatest)
 * ```
 */
export async function migrateDownLatest(m: Migrators): Promise<string[]> {
  const latest = (list: MigrationStatus[]) =>
    list.reduce<MigrationStatus | undefined>((a, b) => (b.executedAt && (!a?.executedAt || b.executedAt >= a.executedAt) ? b : a), undefined)
  const core = latest(toStatus(await m.core.getMigrations(), 'automagik-db'))
  const app = latest(m.app ? toStatus(await m.app.getMigrations(), 'app') : await m.recordedApp())
  const appIsLatest = app?.executedAt != null && (core?.executedAt == null || app.executedAt >= core.executedAt)
  if (appIsLatest && !m.app) {
    throw new MigrationError(
      `the latest applied migration is the app's ${app.name}: pass the app's migrations (Db.connect({ migrations }) or --migrations) to revert it`,
    )
  }
  const migrator = appIsLatest ? m.app! : m.core
  return unwrapMigrationResult(await migrator.migrateDown())
}

/**
 * Ours, then the app's, each with when it was applied.
 *
 * @example
 * ```ts
 * await runMigrator(scope, app, migrationStatusOf)
 * ```
 */
export async function migrationStatusOf(m: Migrators): Promise<MigrationStatus[]> {
  const core = toStatus(await m.core.getMigrations(), 'automagik-db')
  return [...core, ...(m.app ? toStatus(await m.app.getMigrations(), 'app') : await m.recordedApp())]
}

/** Throws the migrator's error (typed) if the run failed; returns the names it applied. */
export function unwrapMigrationResult({ error, results }: MigrationResultSet): string[] {
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName
    const cause = translateError(error)
    throw new MigrationError(`migration ${failed ?? '(setup)'} failed: ${cause.message}`, { cause })
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/** Maps Kysely's migration info to the public status shape. */
export function toStatus(infos: readonly MigrationInfo[], owner: MigrationOwner): MigrationStatus[] {
  return infos.map((m) => ({ name: m.name, owner, executedAt: m.executedAt ?? null }))
}

/**
 * Runs `op` with a migrator on the connection of `scope` (pinned, or a transaction), which the
 * client watchdog leaves alone meanwhile, and — pinned — with no statement_timeout: a long
 * migration is never cut short. With a schema, search_path is set to it first (created if
 * missing), so the migrations' tables land there. Then the database's extensions are read again.
 *
 * @example
 * ```ts
 * await runMigrator(pinnedScope, async (m) => unwrapMigrationResult(await m.migrateToLatest()))
 * ```
 */
export async function runMigrator<T>(
  scope: Scope,
  app: Readonly<Record<string, Migration>> | undefined,
  op: (migrators: Migrators) => Promise<T>,
): Promise<T> {
  const binding = scope.binding
  if (binding === undefined) throw new MigrationError('migrations run on a connection-bound scope')
  const conn = binding.conn
  const schema = scope.schema
  try {
    return await conn.exemptFromWatchdog(async () => {
      // The settings changed below are put back afterwards: the connection may be the caller's
      // (a transaction, or withConnection), and later statements must not land in the schema.
      const local = binding.inTransaction
      const { rows } = await conn.query(
        "SELECT current_setting('search_path') AS search_path, current_setting('statement_timeout') AS statement_timeout",
        [],
        false,
      )
      const saved = rows[0] as { search_path: string; statement_timeout: string }
      try {
        // Nor cut short by the server's statement_timeout, meant for the app's queries (an index
        // build, or the wait for another process's migration lock, may take longer). In a
        // caller's transaction its own setting stays.
        if (!local) await conn.control('SET statement_timeout = 0')
        if (schema !== '') {
          await conn.control(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
          await conn.control(`SET ${local ? 'LOCAL ' : ''}search_path TO "${schema}"`)
        }
        const kysely = scope.withSchema('').kysely
        const inSchema = schema || undefined
        const result = await op({
          core: createMigrator(kysely, inSchema),
          app: app && Object.keys(app).length > 0 ? createMigrator(kysely, inSchema, app) : undefined,
          recordedApp: () => recordedAppMigrations(kysely),
          kysely,
        })
        // Migrations install extensions (db.features).
        await scope.root.extensions.refresh((sql) => scope.readRows(sql))
        return result
      } finally {
        // In a failed transaction nothing can run; its rollback puts the settings back anyway.
        if (conn.txStatus !== 'E') {
          await conn.query(
            'SELECT set_config($1, $2, $3), set_config($4, $5, $3)',
            ['search_path', saved.search_path, local, 'statement_timeout', saved.statement_timeout],
            false,
          )
        }
      }
    })
  } catch (err) {
    throw translateError(err)
  }
}

/** The app migrations recorded in the database (search_path is the scope's schema). */
async function recordedAppMigrations(kysely: Kysely<any>): Promise<MigrationStatus[]> {
  const { rows } = await sql<{ present: boolean }>`SELECT to_regclass(${APP_MIGRATION_TABLE}) IS NOT NULL AS present`.execute(kysely)
  if (!rows[0]?.present) return []
  const recorded = await kysely.selectFrom(APP_MIGRATION_TABLE).select(['name', 'timestamp']).orderBy('name').execute()
  return recorded.map((r) => ({ name: String(r.name), owner: 'app', executedAt: new Date(String(r.timestamp)) }))
}
