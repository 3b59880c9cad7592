import type { Kysely } from 'kysely'
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

/** Builds the Kysely migrator over the package's static migration list. */
export function createMigrator(db: Kysely<any>): Migrator {
  return new Migrator({
    db,
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
