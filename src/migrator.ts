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
      // Nor by the server's statement_timeout, meant for the app's queries (an index build or
      // the wait for another process's migration lock may take longer). A pinned connection is
      // reset when it goes back to the pool; a caller's transaction keeps its own settings.
      if (!binding.inTransaction) await conn.control('SET statement_timeout = 0')
      if (schema !== '') {
        await conn.control(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
        await conn.control(`SET ${binding.inTransaction ? 'LOCAL ' : ''}search_path TO "${schema}"`)
      }
      return op(createMigrator(scope.withSchema('').kysely, schema || undefined))
    })
  } catch (err) {
    throw translateError(err)
  }
}
