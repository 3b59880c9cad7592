import type { Kysely, SelectQueryBuilder } from 'kysely'
import type { Database } from '../generated/database.js'
import { CreateSessionInput, Session, sessionColumns, toSession, UpdateSessionInput } from '../models/session.model.js'
import { assertId, assertOptions, validateInput } from '../validation.js'
import { BaseRepository, readLimit, whereEq, type ListOptions } from './base.repository.js'

/** Filters of `sessions.list` and `sessions.count`: left out = any, null = none. */
export interface SessionFilter {
  userId?: number | null
  agentId?: number | null
}

const SESSION_FIELDS = {
  id: 'id',
  userId: 'user_id',
  agentId: 'agent_id',
  name: 'name',
  platform: 'platform',
  metadata: 'metadata',
  runFinishedAt: 'run_finished_at',
} as const

/**
 * Sessions: conversations of a user with an agent, listed latest activity first.
 *
 * @example
 * ```ts
 * const session = await db.sessions.create({ userId: user.id, agentId: agent.id, platform: 'web' })
 * ```
 */
export class SessionRepository extends BaseRepository<Session, string> {
  constructor(db: Kysely<Database>) {
    super(db, {
      table: 'sessions',
      name: 'sessions',
      columns: sessionColumns,
      toEntity: toSession,
      idKind: 'uuid',
      pageKey: { column: 'id', kind: 'uuid', of: (s) => s.id },
      fields: SESSION_FIELDS,
      json: new Set(['metadata']),
      updateInput: UpdateSessionInput,
    })
  }

  /**
   * Creates a session; its id is generated unless you give one. A user or agent id that does
   * not exist fails with ForeignKeyError.
   *
   * @example
   * ```ts
   * const s = await db.sessions.create({ userId: 1, agentId: 2, name: 'Support chat' })
   * ```
   */
  async create(input: CreateSessionInput): Promise<Session> {
    const valid = validateInput(CreateSessionInput, input, 'sessions.create')
    const values = this.toRow(valid)
    const insert = this.db.insertInto('sessions')
    // `create({})` is valid (every column has a default): INSERT … () VALUES () is not SQL.
    const row = await (Object.keys(values).length ? insert.values(values as never) : insert.defaultValues())
      .returning(sessionColumns)
      .executeTakeFirstOrThrow()
    return toSession(row)
  }

  /**
   * Sessions, latest activity (`updatedAt`) first, optionally of one user and/or one agent.
   *
   * @example
   * ```ts
   * const recent = await db.sessions.list({ userId: user.id, limit: 20 })
   * ```
   */
  async list(filter: SessionFilter & ListOptions = {}): Promise<Session[]> {
    const opts = assertOptions(filter, ['userId', 'agentId', 'limit'], 'sessions.list')
    const query = this.filtered(this.db.selectFrom('sessions').select(sessionColumns), opts, 'list')
    const rows = await query
      .orderBy('updated_at', 'desc')
      .orderBy('id', 'desc')
      .limit(readLimit(opts.limit, 'sessions.list'))
      .execute()
    return rows.map(toSession)
  }

  /**
   * How many sessions match the filter.
   *
   * @example
   * ```ts
   * const n = await db.sessions.count({ agentId: agent.id })
   * ```
   */
  override count(filter: SessionFilter = {}): Promise<number> {
    return super.count(filter)
  }

  /**
   * Marks the session finished (`runFinishedAt = now()`); false when no session has this id.
   *
   * @example
   * ```ts
   * await db.sessions.finish(session.id)
   * ```
   */
  async finish(id: string): Promise<boolean> {
    this.assertId(id, 'finish')
    const result = await this.db
      .updateTable('sessions')
      .set((eb) => ({ run_finished_at: eb.fn('now') }))
      .where('id', '=', id)
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }

  protected override filtered<Q extends SelectQueryBuilder<any, any, any>>(query: Q, filter: unknown, method: string): Q {
    const context = `sessions.${method}`
    const keys = method === 'list' ? ['userId', 'agentId', 'limit'] : ['userId', 'agentId']
    const f = assertOptions(filter, keys, context) as SessionFilter
    if (f.userId != null) assertId(f.userId, 'userId', context)
    if (f.agentId != null) assertId(f.agentId, 'agentId', context)
    return whereEq(whereEq(query, 'user_id', f.userId), 'agent_id', f.agentId)
  }
}
