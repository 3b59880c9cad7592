import { sql, type Expression, type Kysely, type RawBuilder, type SelectQueryBuilder, type SqlBool } from 'kysely'
import { ValidationError } from '../errors.js'
import { memoryColumns, READ_MODES, type ReadMode } from '../models/memory.model.js'
import { liveMemory } from './memory-expiry.js'
import { assertId, assertOptions, assertText, assertUuid } from '../validation.js'

/**
 * Which memories apply to a request, and which of them wins: the SQL of `memories.resolve`,
 * `memories.effective` and `context.load`, in one place.
 *
 * A request is (agentId A, userId U, sessionId S). Its candidates are the memories whose
 * agent is A or NULL, user is U or NULL and session is S or NULL, where a key the request does
 * not give matches only NULL. Among the candidates of one name the most specific wins: a
 * session-scoped memory beats one with a user, which beats one with only an agent; with the same
 * keys set, more keys beat fewer. That is the order
 * `(session_id IS NOT NULL, user_id IS NOT NULL, agent_id IS NOT NULL) DESC`:
 *
 * | rank | session | user | agent |
 * |------|---------|------|-------|
 * | 1    | S       | U    | A     |
 * | 2    | S       | U    | –     |
 * | 3    | S       | –    | A     |
 * | 4    | –       | U    | A     |
 * | 5    | –       | U    | –     |
 * | 6    | –       | –    | A     |
 */

/**
 * The request a scope is resolved for, as SQL values: each key a value (sent as a parameter;
 * null when the request does not give it) or an expression (e.g. a column of a session row).
 */
export interface ScopeKeys {
  agentId: unknown
  userId: unknown
  sessionId: unknown
}

/** A request's scope as callers give it: every key optional. */
export interface ResolveScope {
  agentId?: number | null
  userId?: number | null
  sessionId?: string | null
}

/** Options of `memories.effective`. */
export interface EffectiveOptions extends ResolveScope {
  /** Only the winners in this read mode (chosen first, then filtered: an override hides). */
  readMode?: ReadMode
}

/** The alias the memories table has in these queries. */
const M = 'm'

/**
 * The candidate predicate over `memories AS m`: the one place that says which memories apply.
 * Written for the indexes: `m.agent_id = A` (agent_user index) or `m.agent_id IS NULL AND
 * m.user_id = U` (user index), which is the same set as "agent A or NULL, user U or NULL"
 * because a memory has an agent or a user (`memories_owner_check`). Expired memories are never
 * candidates.
 *
 * @example
 * ```ts
 * kysely.selectFrom('memories as m').selectAll().where(memoryCandidates({ agentId: 1, userId: null, sessionId: null }))
 * ```
 */
export function memoryCandidates(keys: ScopeKeys): RawBuilder<SqlBool> {
  const { agentId: a, userId: u, sessionId: s } = keys
  return sql<SqlBool>`(((${sql.ref(`${M}.agent_id`)} = ${a} AND (${sql.ref(`${M}.user_id`)} = ${u} OR ${sql.ref(`${M}.user_id`)} IS NULL))
    OR (${sql.ref(`${M}.agent_id`)} IS NULL AND ${sql.ref(`${M}.user_id`)} = ${u}))
    AND (${sql.ref(`${M}.session_id`)} = ${s} OR ${sql.ref(`${M}.session_id`)} IS NULL)
    AND ${liveMemory(M)})`
}

/** The specificity order: most specific first (see the table above). */
function bySpecificity<Q extends SelectQueryBuilder<any, any, any>>(query: Q): Q {
  return query
    .orderBy(sql`${sql.ref(`${M}.session_id`)} IS NOT NULL`, 'desc')
    .orderBy(sql`${sql.ref(`${M}.user_id`)} IS NOT NULL`, 'desc')
    .orderBy(sql`${sql.ref(`${M}.agent_id`)} IS NOT NULL`, 'desc') as Q
}

const COLUMNS = memoryColumns.map((c) => `${M}.${c}`)

/**
 * The most specific memory named `name` for the request: a SELECT of the memory columns, at
 * most one row.
 *
 * @example
 * ```ts
 * const { rows } = await resolveQuery(kysely, 'tone', { agentId: 1, userId: 2, sessionId: null }).execute()
 * ```
 */
export function resolveQuery(db: Kysely<any>, name: unknown, keys: ScopeKeys): SelectQueryBuilder<any, any, any> {
  const query = db
    .selectFrom(`memories as ${M}`)
    .select(COLUMNS)
    .where(`${M}.name`, '=', name)
    .where(memoryCandidates(keys))
  return bySpecificity(query).orderBy(`${M}.id`).limit(1)
}

/**
 * The effective memories of a request: one per name, the most specific, by name. With
 * `readMode` (a value or an expression), the winners are chosen first and then filtered, so a
 * user's `tool` override of a name hides the agent's `system_prompt` memory of that name.
 *
 * @example
 * ```ts
 * const { rows } = await effectiveQuery(kysely, { agentId: 1, userId: 2, sessionId: null }, 'system_prompt').execute()
 * ```
 */
export function effectiveQuery(db: Kysely<any>, keys: ScopeKeys, readMode?: unknown): SelectQueryBuilder<any, any, any> {
  const winners = bySpecificity(
    db
      .selectFrom(`memories as ${M}`)
      .distinctOn(`${M}.name`)
      .select(COLUMNS)
      .where(memoryCandidates(keys))
      .orderBy(`${M}.name`),
  ).orderBy(`${M}.id`)
  let query = db.selectFrom(winners.as('e')).select(memoryColumns.map((c) => `e.${c}`))
  if (readMode !== undefined) query = query.where('e.read_mode', '=', readMode as Expression<unknown>)
  return query.orderBy('e.name')
}

/**
 * Checks a request's scope (and, for `effective`, its read mode) before any SQL: ids, the
 * session's UUID, the read mode and no unknown keys. Returns the keys as parameter values.
 *
 * @example
 * ```ts
 * const { keys, readMode } = readScope({ agentId: 1, readMode: 'tool' }, true, 'memories.effective')
 * ```
 */
export function readScope(
  options: unknown,
  withReadMode: boolean,
  context: string,
): { keys: { agentId: number | null; userId: number | null; sessionId: string | null }; readMode: ReadMode | undefined } {
  const keys = withReadMode ? ['agentId', 'userId', 'sessionId', 'readMode'] : ['agentId', 'userId', 'sessionId']
  const o = assertOptions(options, keys, context)
  if (o.agentId != null) assertId(o.agentId, 'agentId', context)
  if (o.userId != null) assertId(o.userId, 'userId', context)
  if (o.sessionId != null) assertUuid(o.sessionId, 'sessionId', context)
  return {
    keys: {
      agentId: (o.agentId as number | null | undefined) ?? null,
      userId: (o.userId as number | null | undefined) ?? null,
      sessionId: (o.sessionId as string | null | undefined) ?? null,
    },
    readMode: readReadMode(o.readMode, context),
  }
}

/** An optional read mode, checked: undefined, or one of READ_MODES. */
export function readReadMode(value: unknown, context: string): ReadMode | undefined {
  if (value === undefined) return undefined
  if (!(READ_MODES as readonly unknown[]).includes(value)) {
    throw new ValidationError([{ field: 'readMode', messages: [`readMode must be one of ${READ_MODES.join(', ')}`] }], context)
  }
  return value as ReadMode
}

/** Checks a memory name before any SQL (a non-empty safe string of at most 255 characters). */
export function readName(name: unknown, context: string): string {
  assertText(name, 'name', context)
  return name
}
