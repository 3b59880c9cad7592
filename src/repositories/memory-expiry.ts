import { sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely'
import type { QueryContext } from '../execution/query-context.js'

/**
 * Memory expiry (migration 0004): a memory whose `expires_at <= now()` (the database server's
 * clock; in a transaction, its start) is expired. Every read leaves it out, and a write over it
 * treats it as absent, before anything deletes it; `memories.sweepExpired()` deletes it.
 */

/**
 * `(<alias>.expires_at IS NULL OR <alias>.expires_at > now())`: the memory is not expired.
 *
 * @example
 * ```ts
 * kysely.selectFrom('memories as m').selectAll().where(liveMemory('m'))
 * ```
 */
export function liveMemory(alias?: string): RawBuilder<SqlBool> {
  const column = sql.ref(alias === undefined ? 'expires_at' : `${alias}.expires_at`)
  return sql<SqlBool>`(${column} IS NULL OR ${column} > now())`
}

/** The conflict key of `create` / `insert`: name and exact scope (NULLs equal). */
export const MEMORY_KEY = ['name', 'agent_id', 'user_id', 'session_id'] as const

/** The columns a write over an expired memory sets afresh (given values, else their defaults). */
const FRESH = ['id', 'description', 'content', 'read_mode', 'access', 'metadata', 'expires_at', 'created_at'] as const

/**
 * The upsert of `memories.create` (`mode: 'create'`) and `memories.insert` (`'insert'`) of the
 * columns `set` (values in `slots`, after the four key values), RETURNING `columns`.
 *
 * On the conflict key, an expired memory counts as absent: the row is rewritten with the values
 * given and the defaults of the others (a new id unless one is given, `expires_at` as given or
 * NULL, `created_at` now) and its embeddings (those of the old content) are deleted by the same
 * statement. A live memory: `create` overwrites only the columns given; `insert` leaves it as it
 * is and returns no row (the caller's ConflictError).
 *
 * @example
 * ```ts
 * const query = upsertMemory(kysely, ['name', 'agent_id', 'content'], slots, 'create', memoryColumns)
 * ```
 */
export function upsertMemory(
  db: Kysely<any>,
  set: readonly string[],
  slots: readonly unknown[],
  mode: 'create' | 'insert',
  columns: readonly string[],
) {
  const [name, agentId, userId, sessionId, ...values] = slots
  const expired = sql<SqlBool>`memories.expires_at <= now()`
  const given = new Set(set)
  const fresh = (c: string) => sql.ref(`excluded.${c}`)
  const assignments = Object.fromEntries(
    FRESH.map((c) => [
      c,
      mode === 'insert' || (given.has(c) && c !== 'id')
        ? fresh(c)
        : sql`CASE WHEN ${expired} THEN ${fresh(c)} ELSE ${sql.ref(`memories.${c}`)} END`,
    ]),
  )
  return db
    .with('stale_embeddings', (qc) =>
      qc
        .deleteFrom('memory_embeddings as e')
        .using('memories as m')
        .whereRef('e.memory_id', '=', 'm.id')
        .where('m.name', '=', name)
        .where(sql<SqlBool>`m.agent_id IS NOT DISTINCT FROM ${agentId}::int4`)
        .where(sql<SqlBool>`m.user_id IS NOT DISTINCT FROM ${userId}::int4`)
        .where(sql<SqlBool>`m.session_id IS NOT DISTINCT FROM ${sessionId}::uuid`)
        .where(sql<SqlBool>`m.expires_at <= now()`),
    )
    .insertInto('memories')
    .values(Object.fromEntries(set.map((c, i) => [c, values[i]])))
    .onConflict((oc) => {
      const update = oc.columns([...MEMORY_KEY]).doUpdateSet(assignments)
      return mode === 'insert' ? update.where(expired) : update
    })
    .returning(columns as readonly string[])
}

/**
 * Deletes expired memories, `batchSize` per statement (each its own transaction on a root Db),
 * oldest expiry first; their embeddings go with them (ON DELETE CASCADE). Returns how many.
 *
 * @example
 * ```ts
 * const removed = await sweepExpiredMemories(context, MemoryRepository, 5000)
 * ```
 */
export async function sweepExpiredMemories(context: QueryContext<any>, owner: object, batchSize: number): Promise<number> {
  const db = context.kysely as Kysely<any>
  let total = 0
  for (;;) {
    const result = await context.runCompiled('memories.sweepExpired', [batchSize], ([limit]) =>
      db.deleteFrom('memories').where(
        'id',
        'in',
        db
          .selectFrom('memories')
          .select('id')
          .where(sql<SqlBool>`expires_at <= now()`)
          .orderBy('expires_at')
          .limit(limit as number)
          .forUpdate()
          .skipLocked(),
      ),
      owner,
    )
    const deleted = Number(result.numAffectedRows ?? 0n)
    total += deleted
    if (deleted < batchSize) return total
  }
}
