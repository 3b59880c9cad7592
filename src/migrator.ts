import type { Kysely } from 'kysely'
import type { Scope } from './execution/scope.js'
import { Migrator, type MigrationResultSet, type MigrationInfo } from 'kysely/migration'
import { migrations } from '../migrations/index.js'
import { translateError } from './pg-errors.js'
import { MigrationError } from './errors.js'

/** The table in which Kysely records applied migrations. */
export const MIGRATION_TABLE = 'automagik_migration'
/** The lock table Kysely uses so that two processes never migrate at once. */
export const MIGRATION_LOCK_TABLE = 'automagik_migration_lock'

/** One migration and whether it has been applied. */
export interface MigrationStatus {
  name: string
  executedAt: Date | null
}

/** Builds the Kysely migrator over the package's static migration list (its tables in `schema`). */
export function createMigrator(db: Kysely<any>, schema?: string): Migrator {
  return new Migrator({
    db,
    ...(schema ? { migrationTableSchema: schema } : {}),
    provider: { getMigrations: async () => migrations },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  })
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
export function toStatus(infos: readonly MigrationInfo[]): MigrationStatus[] {
  return infos.map((m) => ({ name: m.name, executedAt: m.executedAt ?? null }))
}

/**
 * Runs `op` with a migrator on the connection of `scope` (pinned, or a transaction), which the
 * client watchdog leaves alone meanwhile, and — pinned — with no statement_timeout: a long
 * migration is never cut short. With a schema,
 * search_path is set to it first (created if missing), so the migrations' tables land there.
 *
 * @example
 * ```ts
 * await runMigrator(pinnedScope, async (m) => unwrapMigrationResult(await m.migrateToLatest()))
 * ```
 */
export async function runMigrator<T>(scope: Scope, op: (migrator: Migrator) => Promise<T>): Promise<T> {
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
        return await op(createMigrator(scope.withSchema('').kysely, schema || undefined))
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
