import { fileURLToPath } from 'node:url'
import { Db, type DbOptions } from 'automagik-db'
import type { Database } from './generated/database.js'

/**
 * Every table the app sees: automagik-db's and the app's own (`feedback`, `agents.team`), as
 * `automagik-db codegen --out src/generated/database.ts --migrations ./migrations` wrote them.
 */
export type AppDatabase = Database

/** The app's Db: `db.kysely` is typed with the app's tables next to automagik-db's. */
export type AppDb = Db<AppDatabase>

/** The app's migrations folder, found from this file (not from the working directory). */
export const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url))

/**
 * Connects with the app's migrations: `db.migrate()` applies automagik-db's, then the app's.
 *
 * @example
 * ```ts
 * await using db = await connectAppDb({ dataDir: './data' })
 * ```
 */
export function connectAppDb(options: Omit<DbOptions, 'migrations'> = {}): Promise<AppDb> {
  return Db.connect<AppDatabase>({ ...options, migrations: MIGRATIONS })
}
