import { describe, expect, test as base } from 'vitest'
import { kyselyContext, type Db } from '../../src/index.js'
import { readSearchOptions } from '../../src/search/search-options.js'
import { searchExtensions, searchStatement } from '../../src/search/run-search.js'
import { memorySearchTarget, messageSearchTarget } from '../../src/search/targets.js'
import type { SearchTarget } from '../../src/search/search-target.js'
import { unique, useTestDb } from '../conformance/base-repository.conformance.js'

const ctx = useTestDb()
const { log } = ctx
// These tests write on the root Db, outside a transaction, to VACUUM: a GIN index filled in the
// same transaction keeps its entries in its pending list, which makes the planner (rightly)
// prefer a sequential scan. Each test deletes what it wrote.
const test = base
const ROWS = 3000
const MEMORY_ROWS = 20_000

/**
 * The plan of the statement `search(options)` runs: rebuilt with the same builder, checked to be
 * the very SQL the repository sent, then EXPLAINed with its parameters.
 */
async function planOf(db: Db, target: SearchTarget<unknown>, options: object, run: () => Promise<unknown>): Promise<string> {
  log.clear()
  await run()
  const request = readSearchOptions(target, options)
  const ext = await searchExtensions(kyselyContext(db.kysely), {}, request)
  const { build, args } = searchStatement(db.kysely, target, request, ext)
  const compiled = build(args).compile()
  expect(log.queries).toContain(compiled.sql)
  const rows = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${compiled.sql}`, compiled.parameters as unknown[])
  return rows.map((r) => r['QUERY PLAN']).join('\n')
}

describe('search statements use their indexes', () => {
  test('messages.search fulltext: the GIN index messages_search_idx', async () => {
    const db = ctx.root()
    const agent = await db.agents.create({ name: unique('plan-agent'), type: 't', model: 'm' })
    const user = await db.users.create({ email: `${unique('p')}@example.com` })
    const session = await db.sessions.create({ userId: user.id, agentId: agent.id })
    const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel']
    await db.messages.insertMany(
      Array.from({ length: ROWS }, (_, i) => ({
        sessionId: session.id, role: 'user' as const,
        textContent: `${words[i % 8]} ${words[(i * 7) % 8]} message ${i}${i % 1000 === 0 ? ' zanzibar' : ''}`,
      })),
    )
    await db.query('VACUUM ANALYZE messages')
    const options = { text: 'zanzibar', userId: null }
    const plan = await planOf(db, messageSearchTarget, options, () => db.messages.search(options))
    expect(plan).toContain('messages_search_idx')
    expect((await db.messages.search({ text: 'zanzibar' })).length).toBe(3)
    await db.sessions.delete(session.id)
  })

  test('memories.search fuzzy: the trigram GIN indexes on name and content', async () => {
    const db = ctx.root()
    const agent = await db.agents.create({ name: unique('plan-agent'), type: 't', model: 'm' })
    await db.query(
      `INSERT INTO memories (name, content, agent_id)
       SELECT 'note_' || md5(i::text), 'text ' || md5((i * 31)::text) || ' ' || md5((i * 17)::text), $1
       FROM generate_series(1, ${MEMORY_ROWS}) AS i`,
      [agent.id],
    )
    const color = await db.memories.create({ name: 'favorite_color', content: 'blue', agentId: agent.id })
    await db.query('VACUUM ANALYZE memories')
    const options = { text: 'favourite colr', mode: 'fuzzy' as const, agentId: agent.id }
    const plan = await planOf(db, memorySearchTarget, options, () => db.memories.search(options))
    expect(plan).toContain('memories_name_trgm_idx')
    expect(plan).toContain('memories_content_trgm_idx')
    expect((await db.memories.search(options))[0]!.item.id).toBe(color.id)
    const fulltext = { text: 'favorite', agentId: agent.id }
    expect(await planOf(db, memorySearchTarget, fulltext, () => db.memories.search(fulltext))).toContain('memories_search_idx')
    await db.query('DELETE FROM memories WHERE agent_id = $1', [agent.id])
  })
})
