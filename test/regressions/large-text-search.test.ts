import { describe, expect } from 'vitest'
import { unique, useTestDb } from '../conformance/base-repository.conformance.js'

// Regression (review of issue 10): a tsvector holds at most 1 MB, and the generated search_vector
// columns indexed the whole text, so a 1.6 MB message of distinct words could no longer be
// written (54000 "string is too long for tsvector"), nor could migration 0003 run over one.
// Only the first 100 000 characters are indexed now.

const ctx = useTestDb()
const { test } = ctx

/** `n` distinct 10-letter words. */
function words(n: number): string {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    let w = ''
    for (let k = 0, x = i * 7919 + 13; k < 10; k++, x = Math.floor(x / 26) + k * 131) w += String.fromCharCode(97 + (x % 26))
    out.push(w)
  }
  return out.join(' ')
}

describe('large texts and full-text search', () => {
  test('a 1.6 MB message and memory are written and found by their beginning', async ({ db }) => {
    const text = `zebracorn ${words(150_000)} lastwordhere`
    expect(text.length).toBeGreaterThan(1_600_000)
    const agent = await db.agents.create({ name: unique('big'), type: 't', model: 'm' })
    const session = await db.sessions.create({ agentId: agent.id })
    const m = await db.messages.create({ sessionId: session.id, role: 'tool', textContent: text })
    const memory = await db.memories.create({ name: 'big', content: text, description: text, agentId: agent.id })
    expect((await db.messages.search({ text: 'zebracorn', sessionId: session.id })).map((h) => h.item.id)).toEqual([m.id])
    expect((await db.memories.search({ text: 'zebracorn', agentId: agent.id })).map((h) => h.item.id)).toEqual([memory.id])
    // Past the indexed prefix: not found by full text (documented).
    expect(await db.messages.search({ text: 'lastwordhere', sessionId: session.id })).toEqual([])
    // The whole text would not fit a tsvector (what the columns indexed before the fix).
    await expect(db.transaction((tx) => tx.query(`SELECT to_tsvector('english', $1)`, [text]))).rejects.toMatchObject({ code: '54000' })
  })
})
