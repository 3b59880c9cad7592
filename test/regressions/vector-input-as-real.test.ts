import { describe, expect } from 'vitest'
import { unique, useTestDb, expectValidation } from '../conformance/base-repository.conformance.js'

// Regression (review of issue 10): vectors are stored and compared as reals (float4). [1e-50, 1e-60]
// passed the "not all zeros" check but was stored as {0,0} (never found again, NaN scores), and
// [1e20, 1e20] overflowed pgvector's norm (every score 0). Both are now ValidationErrors, before SQL.

const ctx = useTestDb()
const { test } = ctx

describe('vectors are checked as reals', () => {
  test('too small to be anything but zero, or too long for a real norm: ValidationError naming vector', async ({ db }) => {
    const agent = await db.agents.create({ name: unique('real'), type: 't', model: 'm' })
    const memory = await db.memories.create({ name: 'n', content: 'c', agentId: agent.id })
    for (const vector of [[1e-50, 1e-60], [1e20, 1e20]]) {
      await expectValidation(db.memories.setEmbedding(memory.id, { model: 'real-check', vector }), 'vector')
      await expectValidation(db.memories.search({ vector, model: 'real-check' }), 'vector')
    }
    // The largest that still works, and the smallest non-zero real.
    await db.memories.setEmbedding(memory.id, { model: 'real-check', vector: [1e19, 1e-45] })
    const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM memory_embeddings WHERE memory_id = $1', [memory.id])
    expect(row!.n).toBe(1)
  })
})
