import type { Migration } from 'kysely/migration'
import type { Database } from './generated/database.js'
import type { DbLifetime } from './db-lifetime.js'
import type { QueryContext } from './execution/query-context.js'

/** What every Db of one connect() shares: its lifetime and the app's migrations. */
export interface Shared {
  readonly lifetime: DbLifetime
  readonly appMigrations: Readonly<Record<string, Migration>>
}

/** A class `db.repository()` can build: its constructor takes the scope's executor. */
export type RepositoryClass<R, Tables = {}> = new (executor: QueryContext<Database & Tables>) => R
