import { randomUUID } from 'node:crypto'
import { describe, expect } from 'vitest'
import type { Db } from '../../src/index.js'
import { unique, useTestDb } from '../conformance/base-repository.conformance.js'
import { backend } from '../support/test-db.js'

// Regression: an HNSW index scan returns about hnsw.ef_search rows (pgvector's default 40), so a
// vector search with limit 100 found 40 hits, a second page found none, and a scope filter that
// dropped most of those 40 left a page short. Each search now raises ef_search to what it needs
// and, on pgvector 0.8+, scans iteratively. The planner is made to use the index (seqscan off),
// as it does on a large table: on 300 rows it would otherwise sort them all, exactly.

const ctx = useTestDb()
const { test } = ctx

/** 300 memories in one tight cluster (so the index, not the data, decides how deep a scan goes). */
async function seed(db: Db) {
  const model = `depth-${randomUUID().slice(0, 8)}`
  const agents = [
    await db.agents.create({ name: unique('depth-a'), type: 't', model: 'm' }),
    await db.agents.create({ name: unique('depth-b'), type: 't', model: 'm' }),
  ]
  let seed = 7
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
  const memories = []
  for (let i = 0; i < 300; i++) {
    // Every tenth memory belongs to the second agent: a filter that keeps 30 of 300.
    const m = await db.memories.create({ name: `fact-${i}`, content: 'c', agentId: agents[i % 10 === 0 ? 1 : 0]!.id })
    await db.memories.setEmbedding(m.id, { model, vector: Array.from({ length: 8 }, (_, d) => (d === 0 ? 10 : 0) + random()) })
    memories.push(m)
  }
  await db.query('SET LOCAL enable_seqscan = off')
  return { model, agents, memories }
}

describe.runIf(backend === 'pglite')('vector search beyond hnsw.ef_search (pgvector)', () => {
  test('limit 100 finds 100 hits, the next pages the rest, a filter a full page', async ({ db }) => {
    const { model, agents } = await seed(db)
    const query = Array.from({ length: 8 }, (_, d) => (d === 0 ? 10 : 0.5))
    const plan = await db.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT memory_id FROM memory_embeddings WHERE model = '${model}'
       ORDER BY embedding::vector(8) <=> '[${query}]'::vector(8) LIMIT 100`,
    )
    expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toContain('memory_embeddings_hnsw_')

    const first = await db.memories.search({ vector: query, model, limit: 100 })
    expect(first).toHaveLength(100)
    const seen = new Set(first.map((h) => h.item.id))
    let cursor = first.nextCursor
    while (cursor) {
      const page = await db.memories.search({ vector: query, model, limit: 100, cursor })
      for (const h of page) seen.add(h.item.id)
      cursor = page.nextCursor
    }
    expect(seen.size).toBe(300)

    const filtered = await db.memories.search({ vector: query, model, agentId: agents[1]!.id, limit: 50 })
    expect(filtered).toHaveLength(30)
    // Still best first.
    const scores = filtered.map((h) => h.score)
    expect([...scores].sort((a, b) => b - a)).toEqual(scores)
  })
})
