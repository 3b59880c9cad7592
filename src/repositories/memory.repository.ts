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
import { ValidationError } from '../errors.js'
import { assertId, assertOptions, assertText, assertUuid, validateInput } from '../validation.js'
import type { QueryContext } from '../execution/query-context.js'
import { BaseRepository, excludedOf, readLimit, whereEq, type ListOptions } from './base.repository.js'

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
export class MemoryRepository extends BaseRepository<Memory, string> {
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
    const valid = validateInput(CreateMemoryInput, input, 'memories.create')
    if (valid.agentId == null && valid.userId == null) {
      throw new ValidationError(
        [{ field: 'agentId', messages: ['agentId or userId is required: a memory belongs to an agent, a user, or both'] }],
        'memories.create',
      )
    }
    const row = this.toRow(valid)
    const updates = Object.keys(row).filter((c) => !SCOPE_COLUMNS.has(c) && c !== 'id')
    const set = updates.length ? excludedOf(updates) : { name: sql.ref('memories.name') }
    return this.insertOne(row, 'upsert', (q) =>
      q.onConflict((oc) => oc.columns(['name', 'agent_id', 'user_id', 'session_id']).doUpdateSet(set)),
    )
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
   * Memories ordered by name. A filter key left out means any; null means none:
   * `list({ agentId: 1, userId: null })` is agent 1's global memories only.
   *
   * @example
   * ```ts
   * const tools = await db.memories.list({ agentId: 1, readMode: 'tool' })
   * ```
   */
  async list(filter: MemoryFilter & ListOptions = {}): Promise<Memory[]> {
    const context = 'memories.list'
    const f = this.readFilter(assertOptions(filter, [...FILTER_KEYS, 'limit'], context), context)
    return this.selectWhere(
      'list',
      [['agent_id', f.agentId], ['user_id', f.userId], ['session_id', f.sessionId], ['read_mode', f.readMode], ['access', f.access]],
      [['name', 'asc'], ['id', 'asc']],
      readLimit((filter as ListOptions).limit, context),
    )
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
