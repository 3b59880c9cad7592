/**
 * Read latencies, one call at a time from one client: the last 50 messages of a session
 * (`messages.listBySession` latest first, and `context.load`, whose default is 50 messages) over
 * random sessions, and full-text search (`messages.search`) of common, uncommon and rare terms,
 * over all messages and within one session.
 */
import type { Db } from '../../src/index.js'
import { prng } from '../bench/recall-text.js'
import { sessionId } from './load.js'
import { orderNumber } from './text-pool.js'
import { summarize, timed, type Summary } from './stats.js'

export interface ReadRow {
  what: string
  summary: Summary
  /** Mean rows returned per call. */
  rows: number
}

/** The most frequent words of the text (first in the skewed vocabulary lists). */
const COMMON = ['account', 'order', 'invoice', 'password', 'email', 'check', 'send', 'find', 'message', 'file']
/** Words at the tail of the same lists: in about one message in a few hundred. */
const UNCOMMON = ['towel', 'pillow', 'blanket', 'carpet', 'closet', 'mirror', 'shelf', 'lamp', 'plumber', 'electrician', 'landlord', 'leak']

export async function measureLast50(db: Db, sessions: number, calls: number): Promise<ReadRow[]> {
  const rand = prng(50)
  const pick = () => sessionId(1 + Math.floor(rand() * sessions))
  for (let i = 0; i < 50; i++) await db.messages.listBySession(pick(), { limit: 50, order: 'desc' })
  for (let i = 0; i < 50; i++) await db.context.load(pick())
  const list: number[] = []
  const ctx: number[] = []
  let listRows = 0
  let ctxRows = 0
  for (let i = 0; i < calls; i++) {
    listRows += (await timed(list, () => db.messages.listBySession(pick(), { limit: 50, order: 'desc' }))).length
    ctxRows += (await timed(ctx, () => db.context.load(pick())))?.messages.length ?? 0
  }
  return [
    { what: '`messages.listBySession(id, { limit: 50, order: "desc" })`', summary: summarize(list), rows: listRows / calls },
    { what: '`context.load(id)` (50 messages + session, agent, user, memories)', summary: summarize(ctx), rows: ctxRows / calls },
  ]
}

/** A message of session i that ends with an order number, and that number. */
function rareTerm(i: number, perSession: number): { sessionId: string; text: string } {
  for (let seq = 1; seq <= Math.min(perSession, 40); seq++) {
    const n = orderNumber(i, seq)
    if (n !== null) return { sessionId: sessionId(i), text: String(n) }
  }
  return { sessionId: sessionId(i), text: 'zzzz' }
}

export async function measureSearch(db: Db, sessions: number, perSession: number, log: (l: string) => void): Promise<ReadRow[]> {
  const rand = prng(7)
  const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)]!
  const randomSession = () => 1 + Math.floor(rand() * sessions)
  const cases: { what: string; calls: number; next: () => { text: string; sessionId?: string } }[] = [
    { what: 'common word, all messages', calls: 10, next: () => ({ text: pick(COMMON) }) },
    { what: 'uncommon word, all messages', calls: 40, next: () => ({ text: pick(UNCOMMON) }) },
    { what: 'rare term (order number, 1 message), all messages', calls: 40, next: () => ({ text: rareTerm(randomSession(), perSession).text }) },
    { what: 'common word, one session', calls: 40, next: () => ({ text: pick(COMMON), sessionId: sessionId(randomSession()) }) },
    { what: 'uncommon word, one session', calls: 30, next: () => ({ text: pick(UNCOMMON), sessionId: sessionId(randomSession()) }) },
    { what: 'rare term, its session', calls: 30, next: () => rareTerm(randomSession(), perSession) },
  ]
  const rows: ReadRow[] = []
  for (const c of cases) {
    const samples: number[] = []
    let hits = 0
    const failures: string[] = []
    for (let i = 0; i < c.calls; i++) {
      const q = c.next()
      try {
        hits += (await timed(samples, () => db.messages.search({ mode: 'fulltext', limit: 20, ...q }))).length
      } catch (err) {
        failures.push(err instanceof Error ? err.name : String(err))
      }
    }
    const summary = summarize(samples)
    const failed = failures.length ? ` (${failures.length} failed: ${[...new Set(failures)].join(', ')})` : ''
    log(`  search, ${c.what}: p50 ${summary.p50.toFixed(1)} ms, p99 ${summary.p99.toFixed(1)} ms${failed}`)
    rows.push({ what: `\`messages.search\` fulltext, limit 20: ${c.what}${failed}`, summary, rows: samples.length ? hits / samples.length : 0 })
  }
  return rows
}
