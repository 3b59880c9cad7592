import { sql, type Kysely } from 'kysely'

/**
 * Retention and expiry.
 *
 * - `memories.expires_at timestamptz NULL`: a memory whose `expires_at <= now()` is expired.
 *   Every read of the repositories leaves it out at once; `memories.sweepExpired()` deletes it.
 *   Existing memories get NULL: they never expire.
 * - `memories_expires_at_idx`, partial on `expires_at IS NOT NULL`: what `sweepExpired` scans
 *   (only memories that can expire; reads filter expiry on the rows their own indexes find).
 * - `messages.prune` needs no new index: it walks sessions by primary key and each session's
 *   oldest messages on the unique `(session_id, seq)` index of 0002, stopping at the first one it
 *   keeps. An index on `messages.created_at` would cost every insert and could not tell a
 *   session's prefix from an old message written after a newer one.
 *
 * Adding a nullable column without a default does not rewrite the table.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE memories ADD COLUMN expires_at timestamptz`.execute(db)
  await sql`CREATE INDEX memories_expires_at_idx ON memories (expires_at) WHERE expires_at IS NOT NULL`.execute(db)
}

/** Drops the index and the column: the expiry dates of memories are lost (the memories stay). */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX memories_expires_at_idx`.execute(db)
  await sql`ALTER TABLE memories DROP COLUMN expires_at`.execute(db)
}
