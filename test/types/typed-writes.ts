/**
 * Compile-time checks, run by `npm run typecheck` (CI): each `@ts-expect-error` line must stay an
 * error, or tsc fails with "Unused '@ts-expect-error' directive".
 */
import type { Kysely } from 'kysely'
import type { Database, Db } from '../../src/index.js'

interface AppTables {
  invoices: { id: number; total: number }
}

export function patchesAreTyped(db: Db): void {
  // @ts-expect-error a misspelt field is not part of the agent patch
  void db.agents.update(1, { nmae: 'x' })
  // @ts-expect-error email is a string
  void db.users.update(1, { email: 42 })
  // @ts-expect-error a session's agent id is a number
  void db.sessions.update('00000000-0000-4000-8000-000000000000', { agentId: 'x' })
  // @ts-expect-error ids are numbers for agents
  void db.agents.update('1', { description: 'd' })
  void db.agents.update(1, { description: 'd', config: { temperature: 0.2 } })
  void db.users.update(1, { email: 'ada@example.com', userData: { plan: 'pro' } })
}

export function appTablesAreTyped(db: Db<AppTables>, plain: Db): void {
  // With no type argument a Db is exactly today's: its Kysely knows only our tables.
  const ours: Kysely<Database> = plain.kysely
  void ours
  // @ts-expect-error plain Db does not know the app's tables
  void plain.kysely.selectFrom('invoices')
  void db.kysely.selectFrom('invoices').select(['id', 'total'])
  void db.kysely.selectFrom('agents').select('name')
  void db.transaction(async (tx) => tx.kysely.selectFrom('invoices').selectAll().execute())
  // @ts-expect-error no such column
  void db.kysely.selectFrom('invoices').select('amount')
}
