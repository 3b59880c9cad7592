// The app's first migration: its own table, `feedback`, whose rows belong to automagik-db's
// `sessions`, and a nullable column on automagik-db's `agents` (its repositories keep working:
// they never SELECT *). `automagik-db migrate latest --migrations ./migrations` applies it after
// the package's own migrations; `automagik-db codegen` then types both tables.
import { sql } from 'kysely'

/** @param {import('kysely').Kysely<any>} db */
export async function up(db) {
  await db.schema
    .createTable('feedback')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    .addColumn('session_id', 'uuid', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
    .addColumn('rating', 'smallint', (c) => c.notNull().check(sql`rating BETWEEN 1 AND 5`))
    .addColumn('comment', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('feedback_session_id_idx').on('feedback').column('session_id').execute()
  await db.schema.alterTable('agents').addColumn('team', 'text').execute()
}

/** @param {import('kysely').Kysely<any>} db */
export async function down(db) {
  await db.schema.alterTable('agents').dropColumn('team').execute()
  await db.schema.dropTable('feedback').execute()
}
