import type { Kysely, SelectQueryBuilder } from 'kysely'
import type { Database } from '../generated/database.js'
import { CreateSessionInput, Session, sessionColumns, toSession, UpdateSessionInput } from '../models/session.model.js'
import { assertId, assertOptions, validateInput } from '../validation.js'
import type { QueryContext } from '../execution/query-context.js'
import { asListPage, BaseRepository, readLimit, whereEq, type ListOptions, type ListPage } from './base.repository.js'
import { cursorScope, encodeCursor, readCursor, TIMESTAMP_KEY_SQL, timestampKey, uuidKey } from './cursor.js'

/** Filters of `sessions.list` and `sessions.count`: left out = any, null = none. */
export interface SessionFilter {
  userId?: number | null
  agentId?: number | null
}

/** The exact `updated_at` of each listed row, for the cursor (a Date keeps only milliseconds). */
const ACTIVITY_KEY: Readonly<Record<string, string>> = { cursor_updated_at: TIMESTAMP_KEY_SQL('updated_at') }

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
export class SessionRepository extends BaseRepository<Session, string, Database, UpdateSessionInput> {
  constructor(executor: Kysely<Database> | QueryContext) {
    super(executor, {
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
    return this.insertOne(this.toRow(valid))
  }

  /**
   * Sessions, latest activity (`updatedAt`, then id) first, optionally of one user and/or one
   * agent. A page at a time: the array carries `nextCursor`, to pass as `cursor` (with the same
   * filters) for the next. A session that becomes active while you page moves to the front: the
   * walk does not see it again.
   *
   * @example
   * ```ts
   * const recent = await db.sessions.list({ userId: user.id, limit: 20 })
   * const older = recent.nextCursor ? await db.sessions.list({ userId: user.id, limit: 20, cursor: recent.nextCursor }) : []
   * ```
   */
  async list(filter: SessionFilter & ListOptions = {}): Promise<ListPage<Session>> {
    const context = 'sessions.list'
    const opts = assertOptions(filter, ['userId', 'agentId', 'limit', 'cursor'], context)
    const f = this.readFilter(opts, context)
    const limit = readLimit(opts.limit, context)
    const scope = cursorScope(context, [f.userId, f.agentId])
    const after = readCursor(opts.cursor, scope, context, ([at, id, ...rest]) =>
      rest.length ? undefined : [timestampKey(at, context), uuidKey(id, context)],
    )
    const rows = await this.selectRows(
      'list',
      [['user_id', f.userId], ['agent_id', f.agentId]],
      [['updated_at', 'desc'], ['id', 'desc']],
      limit + 1,
      { after, keys: ACTIVITY_KEY },
    )
    return asListPage(this.toPage(rows, limit, (row) => encodeCursor(scope, [row.cursor_updated_at, row.id])))
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
    const result = await this.cached('sessions.finish', [id], ([id]) =>
      this.db
        .updateTable('sessions')
        .set((eb) => ({ run_finished_at: eb.fn('now') }))
        .where('id', '=', id as string),
    )
    return (result.numAffectedRows ?? 0n) > 0n
  }

  protected override filtered<Q extends SelectQueryBuilder<any, any, any>>(query: Q, filter: unknown, method: string): Q {
    const f = this.readFilter(assertOptions(filter, ['userId', 'agentId'], `sessions.${method}`), `sessions.${method}`)
    return whereEq(whereEq(query, 'user_id', f.userId), 'agent_id', f.agentId)
  }

  private readFilter(f: Record<string, unknown>, context: string): SessionFilter {
    if (f.userId != null) assertId(f.userId, 'userId', context)
    if (f.agentId != null) assertId(f.agentId, 'agentId', context)
    return f as SessionFilter
  }
}
