import { sql, type Kysely, type SqlBool } from 'kysely'
import { ValidationError } from '../errors.js'
import type { QueryContext } from '../execution/query-context.js'
import { assertOptions, timestampReason } from '../validation.js'

/** Options of `messages.prune`. */
export interface PruneOptions {
  /** Messages written before this instant (`created_at < olderThan`) may go; see `messages.prune`. */
  olderThan: Date
  /** Most messages deleted by one statement (default 5000, from 1 to 100 000). */
  batchSize?: number
}

/** Default and largest `batchSize` of `messages.prune` and `memories.sweepExpired`. */
export const DEFAULT_RETENTION_BATCH = 5000
export const MAX_RETENTION_BATCH = 100_000

/** Below every UUID: where the walk over sessions starts. */
const FIRST_SESSION = '00000000-0000-0000-0000-000000000000'
/** Above every seq: the bound of a session none of whose messages is kept. */
const NO_KEPT_MESSAGE = sql.lit('9223372036854775807')

/**
 * An optional batch size, checked before any SQL: an integer from 1 to 100 000 (default 5000).
 *
 * @example
 * ```ts
 * const n = readBatchSize(options.batchSize, 'messages.prune')
 * ```
 */
export function readBatchSize(value: unknown, context: string): number {
  if (value === undefined) return DEFAULT_RETENTION_BATCH
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_RETENTION_BATCH) {
    throw new ValidationError([{ field: 'batchSize', messages: [`batchSize must be an integer from 1 to ${MAX_RETENTION_BATCH}`] }], context)
  }
  return value
}

/**
 * `messages.prune`: deletes, in every session, the messages before its first message (in `seq`
 * order) written at or after `olderThan`: a prefix of the session, so its history stays
 * contiguous. Each batch is one statement (its own transaction on a root Db) that walks the next
 * sessions by id, finds each one's first kept message on `(session_id, seq)` and deletes at most
 * `batchSize` messages before it, lowest `seq` first: every commit leaves each session a
 * contiguous run. Returns how many messages were deleted.
 *
 * @example
 * ```ts
 * const removed = await pruneMessages(context, MessageRepository, { olderThan: new Date(Date.now() - 90 * 864e5) })
 * ```
 */
export async function pruneMessages(context: QueryContext<any>, owner: object, options: PruneOptions): Promise<number> {
  const method = 'messages.prune'
  if (options === undefined) throw new ValidationError([{ field: 'olderThan', messages: ['olderThan is required'] }], method)
  const o = assertOptions(options, ['olderThan', 'batchSize'], method)
  const reason = timestampReason(o.olderThan)
  if (reason !== undefined) throw new ValidationError([{ field: 'olderThan', messages: [`olderThan ${reason}`] }], method)
  const batchSize = readBatchSize(o.batchSize, method)
  // Sessions looked at per statement: enough to fill a batch (a session with a prefix gives at
  // least one message), and a bound on the work of a statement that finds little to delete.
  const walk = Math.max(batchSize, 100)
  const db = context.kysely as Kysely<any>
  let cursor = FIRST_SESSION
  let total = 0
  for (;;) {
    const { rows } = await context.runCompiled<BatchRow>('messages.prune', [cursor, walk, o.olderThan, batchSize], (slots) => batchQuery(db, slots), owner)
    const row = rows[0]!
    total += Number(row.deleted)
    // Decided on what the batch chose, not on what it deleted: a message another transaction
    // deleted meanwhile must not make the walk skip the sessions after the batch's last one.
    if (Number(row.chosen) === batchSize) cursor = row.last_chosen! // that session may have more to delete
    else if (Number(row.walked) < walk) return total // no sessions left
    else cursor = row.last_walked!
  }
}

interface BatchRow {
  deleted: string
  chosen: string
  last_chosen: string | null
  walked: string
  last_walked: string | null
}

/**
 * One batch: `walked` (the next `walk` sessions from the cursor, inclusive), `doomed` (per
 * session, the messages with a seq below that of its first message created at or after
 * `olderThan`, lowest first; at most `batchSize` in (session, seq) order), the DELETE, and what
 * the caller needs to go on.
 */
function batchQuery(db: Kysely<any>, slots: readonly unknown[]) {
  const [cursor, walk, olderThan, batchSize] = slots
  return db
    .with(
      (cte) => cte('walked').materialized(),
      (qc) => qc.selectFrom('sessions').select('id').where('id', '>=', cursor).orderBy('id').limit(walk as number),
    )
    .with('doomed', (qc) =>
      qc
        // The walk again, not the CTE: its order by id lets the LIMIT below stop early (an
        // incremental sort per session) instead of reading every walked session's prefix.
        .selectFrom((sq) => sq.selectFrom('sessions').select('id').where('id', '>=', cursor).orderBy('id').limit(walk as number).as('w'))
        // Once per session: the seq of its first message created at or after olderThan.
        .innerJoinLateral(
          () =>
            qc
              .selectNoFrom((eb) =>
                eb.fn
                  .coalesce(
                    eb
                      .selectFrom('messages as k')
                      .select('k.seq')
                      .where('k.session_id', '=', sql.ref('w.id'))
                      .where('k.created_at', '>=', olderThan)
                      .orderBy('k.seq')
                      .limit(1),
                    NO_KEPT_MESSAGE,
                  )
                  .as('seq'),
              )
              .as('kept'),
          (join) => join.onTrue(),
        )
        // The messages before it, on (session_id, seq): an index range.
        .innerJoinLateral(
          (eb) =>
            eb
              .selectFrom('messages as m')
              .select(['m.id', 'm.seq'])
              .whereRef('m.session_id', '=', 'w.id')
              .whereRef('m.seq', '<', 'kept.seq')
              .orderBy('m.seq')
              .limit(batchSize as number)
              .as('x'),
          (join) => join.onTrue(),
        )
        .select(['x.id', 'w.id as session_id'])
        .orderBy('w.id')
        .orderBy('x.seq')
        .limit(batchSize as number),
    )
    .with('deleted', (qc) =>
      qc
        .deleteFrom('messages')
        // = ANY(ARRAY(…)): primary-key probes (an IN join would be planned as a hash join over
        // the whole table, the planner not knowing the batch is small).
        .where(sql<SqlBool>`id = ANY(ARRAY(${qc.selectFrom('doomed').select('doomed.id')}))`)
        .returning('session_id'),
    )
    .selectNoFrom((eb) => [
      eb.selectFrom('deleted').select(eb.fn.countAll<string>().as('n')).as('deleted'),
      eb.selectFrom('doomed').select(eb.fn.countAll<string>().as('n')).as('chosen'),
      eb.selectFrom('doomed').select('session_id').orderBy('session_id', 'desc').limit(1).as('last_chosen'),
      eb.selectFrom('walked').select(eb.fn.countAll<string>().as('n')).as('walked'),
      eb.selectFrom('walked').select('id').orderBy('id', 'desc').limit(1).as('last_walked'),
    ])
}
