import { sql, type Kysely, type SelectQueryBuilder } from 'kysely'
import type { Database } from '../generated/database.js'
import {
  ACCESS_MODES,
  CreateMemoryInput,
  Memory,
  memoryColumns,
  READ_MODES,
  toMemory,
  UpdateMemoryInput,
  type Access,
  type ReadMode,
} from '../models/memory.model.js'
import { ConflictError, ValidationError } from '../errors.js'
import { assertId, assertOptions, assertText, assertUuid, validateInput } from '../validation.js'
import type { QueryContext } from '../execution/query-context.js'
import { asListPage, BaseRepository, excludedOf, readLimit, whereEq, type ListOptions, type ListPage } from './base.repository.js'
import { cursorScope, encodeCursor, readCursor, readTextKey, textKey, textKeyAfter, uuidKey } from './cursor.js'

/** A memory's scope. In `getByName` a key left out means NULL (exact scope). */
export interface MemoryScope {
  agentId?: number | null
  userId?: number | null
  sessionId?: string | null
}

/** Filters of `memories.list` / `count`: a key left out means any, null means none. */
export interface MemoryFilter extends MemoryScope {
  readMode?: ReadMode | null
  access?: Access | null
}

const MEMORY_FIELDS = {
  id: 'id',
  name: 'name',
  description: 'description',
  content: 'content',
  sessionId: 'session_id',
  userId: 'user_id',
  agentId: 'agent_id',
  readMode: 'read_mode',
  access: 'access',
  metadata: 'metadata',
} as const
const SCOPE_COLUMNS: ReadonlySet<string> = new Set(['name', 'agent_id', 'user_id', 'session_id'])
const FILTER_KEYS = ['agentId', 'userId', 'sessionId', 'readMode', 'access'] as const

/**
 * Memories: named knowledge scoped to an agent, a user, a session or a combination.
 * `create` upserts on (name, agentId, userId, sessionId), where NULLs count as equal.
 *
 * @example
 * ```ts
 * await db.memories.create({ name: 'tone', content: 'formal', agentId: agent.id }) // agent-global
 * await db.memories.create({ name: 'tone', content: 'casual', agentId: agent.id, userId: user.id })
 * ```
 */
export class MemoryRepository extends BaseRepository<Memory, string, Database, UpdateMemoryInput> {
  constructor(executor: Kysely<Database> | QueryContext) {
    super(executor, {
      table: 'memories',
      name: 'memories',
      columns: memoryColumns,
      toEntity: toMemory,
      idKind: 'uuid',
      pageKey: { column: 'id', kind: 'uuid', of: (m) => m.id },
      fields: MEMORY_FIELDS,
      json: new Set(['metadata']),
      updateInput: UpdateMemoryInput,
    })
  }

  /**
   * Creates the memory, or updates the one with the same name and exact scope, atomically.
   * Only the fields given are overwritten. An agent-global memory (userId null) and a user's
   * memory of the same name are different memories.
   *
   * @example
   * ```ts
   * const m = await db.memories.create({ name: 'prefs', content: '…', agentId: 1, userId: 2, readMode: 'tool' })
   * ```
   */
  async create(input: CreateMemoryInput): Promise<Memory> {
    const row = this.#validRow(input, 'memories.create')
    const updates = Object.keys(row).filter((c) => !SCOPE_COLUMNS.has(c) && c !== 'id')
    const set = updates.length ? excludedOf(updates) : { name: sql.ref('memories.name') }
    return this.insertOne(row, 'upsert', (q) =>
      q.onConflict((oc) => oc.columns(['name', 'agent_id', 'user_id', 'session_id']).doUpdateSet(set)),
    )
  }

  /**
   * Creates the memory, never touching an existing one: when a memory with this name and exact
   * scope (agentId, userId, sessionId; NULLs equal) exists it throws ConflictError (code
   * `23505`, constraint `memories_scope_key`) and writes nothing. The conflict is detected
   * without a failed statement, so a transaction you are in carries on.
   *
   * @example
   * ```ts
   * const m = await db.memories.insert({ name: 'onboarding', content: 'done', userId: 2 })
   * ```
   */
  async insert(input: CreateMemoryInput): Promise<Memory> {
    const row = this.#validRow(input, 'memories.insert')
    const set = Object.keys(row)
    const { rows } = await this.cached(`memories.insertNew:${set}`, Object.values(row), (v) =>
      this.db
        .insertInto('memories')
        .values(Object.fromEntries(set.map((c, i) => [c, v[i]])) as never)
        .onConflict((oc) => oc.columns(['name', 'agent_id', 'user_id', 'session_id']).doNothing())
        .returning(memoryColumns),
    )
    if (rows[0] === undefined) {
      throw new ConflictError('memories.insert: a memory with this name and scope already exists', {
        code: '23505',
        constraint: 'memories_scope_key',
        table: 'memories',
      })
    }
    return toMemory(rows[0])
  }

  /** A create input, checked (at least one of agentId and userId), as the columns to write. */
  #validRow(input: CreateMemoryInput, context: string): Record<string, unknown> {
    const valid = validateInput(CreateMemoryInput, input, context)
    if (valid.agentId == null && valid.userId == null) {
      throw new ValidationError(
        [{ field: 'agentId', messages: ['agentId or userId is required: a memory belongs to an agent, a user, or both'] }],
        context,
      )
    }
    return this.toRow(valid)
  }

  /**
   * The memory with this name in exactly this scope: a scope key left out means NULL, so
   * `getByName('tone', { agentId: 1 })` is agent 1's global memory, never a user's.
   *
   * @example
   * ```ts
   * const mine = await db.memories.getByName('tone', { agentId: 1, userId: 2 })
   * ```
   */
  async getByName(name: string, scope: MemoryScope = {}): Promise<Memory | null> {
    const context = 'memories.getByName'
    assertText(name, 'name', context)
    const s = this.readFilter(assertOptions(scope, ['agentId', 'userId', 'sessionId'], context), context)
    const scoped: [string, unknown][] = [
      ['name', name],
      ['agent_id', s.agentId ?? null],
      ['user_id', s.userId ?? null],
      ['session_id', s.sessionId ?? null],
    ]
    const [memory] = await this.selectWhere('getByName', scoped, [], 1)
    return memory ?? null
  }

  /**
   * Memories ordered by name (then id). A filter key left out means any; null means none:
   * `list({ agentId: 1, userId: null })` is agent 1's global memories only. A page at a time:
   * the array carries `nextCursor`, to pass as `cursor` (with the same filters) for the next.
   *
   * @example
   * ```ts
   * const tools = await db.memories.list({ agentId: 1, readMode: 'tool' })
   * const more = tools.nextCursor ? await db.memories.list({ agentId: 1, readMode: 'tool', cursor: tools.nextCursor }) : []
   * ```
   */
  async list(filter: MemoryFilter & ListOptions = {}): Promise<ListPage<Memory>> {
    const context = 'memories.list'
    const opts = assertOptions(filter, [...FILTER_KEYS, 'limit', 'cursor'], context)
    const f = this.readFilter(opts, context)
    const limit = readLimit(opts.limit, context)
    const filters = [
      ['agent_id', f.agentId], ['user_id', f.userId], ['session_id', f.sessionId], ['read_mode', f.readMode], ['access', f.access],
    ] as const
    const scope = cursorScope(context, filters.map(([, v]) => v))
    const key = readCursor(opts.cursor, scope, context, (k) => readTextKey(k, (id) => uuidKey(id, context)))
    const after = await textKeyAfter(key, async (id: string) => (await this.get(id))?.name)
    const rows = await this.selectRows('list', filters, [['name', 'asc'], ['id', 'asc']], limit + 1, { after })
    return asListPage(this.toPage(rows, limit, (_, m: Memory) => encodeCursor(scope, textKey(scope, m.name, m.id))))
  }

  /**
   * How many memories match the filter (same semantics as `list`).
   *
   * @example
   * ```ts
   * const n = await db.memories.count({ userId: 2 })
   * ```
   */
  override count(filter: MemoryFilter = {}): Promise<number> {
    return super.count(filter)
  }

  protected override filtered<Q extends SelectQueryBuilder<any, any, any>>(query: Q, filter: unknown, method: string): Q {
    const context = `memories.${method}`
    const f = this.readFilter(assertOptions(filter, FILTER_KEYS, context), context)
    query = whereEq(query, 'agent_id', f.agentId)
    query = whereEq(query, 'user_id', f.userId)
    query = whereEq(query, 'session_id', f.sessionId)
    query = whereEq(query, 'read_mode', f.readMode)
    return whereEq(query, 'access', f.access)
  }

  private readFilter(f: Record<string, unknown>, context: string): MemoryFilter {
    if (f.agentId != null) assertId(f.agentId, 'agentId', context)
    if (f.userId != null) assertId(f.userId, 'userId', context)
    if (f.sessionId != null) assertUuid(f.sessionId, 'sessionId', context)
    for (const [key, allowed] of [['readMode', READ_MODES], ['access', ACCESS_MODES]] as const) {
      const v = f[key]
      if (v != null && !(allowed as readonly unknown[]).includes(v)) {
        throw new ValidationError([{ field: key, messages: [`${key} must be one of ${allowed.join(', ')}`] }], context)
      }
    }
    return f as MemoryFilter
  }
}
