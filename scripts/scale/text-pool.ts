/**
 * The text of the loaded messages: a pool of fragments (2–4 chat sentences from the bench's
 * seeded, Zipf-skewed vocabulary, scripts/bench/recall-text.ts) stored in `scale_pool`; a user
 * message is one fragment, an assistant message two, and one message in 20 ends with an order
 * number that no other message has (the rare search terms). Pool of 100 000 fragments: 10^10
 * assistant texts, so repeats are as rare as in real chat.
 */
import type pg from 'pg'
import { prng, sentence } from '../bench/recall-text.js'

export const POOL_TABLE = 'scale_pool'

/** Fragments in the pool (fewer for a small load). */
export function poolSize(messages: number): number {
  return Math.max(1000, Math.min(100_000, Math.floor(messages / 10)))
}

/** Creates and fills `scale_pool (id 0..n-1, body)`; returns the fragments' mean length. */
export async function fillPool(client: pg.Client, n: number): Promise<number> {
  await client.query(`DROP TABLE IF EXISTS ${POOL_TABLE}`)
  await client.query(`CREATE TABLE ${POOL_TABLE} (id integer PRIMARY KEY, body text NOT NULL)`)
  const rand = prng(20261202)
  let chars = 0
  for (let from = 0; from < n; from += 10_000) {
    const bodies: string[] = []
    for (let i = from; i < Math.min(n, from + 10_000); i++) {
      const count = 2 + Math.floor(rand() * 3)
      const parts: string[] = []
      for (let k = 0; k < count; k++) parts.push(sentence(rand))
      const body = parts.join(' ')
      chars += body.length
      bodies.push(body)
    }
    await client.query(`INSERT INTO ${POOL_TABLE} (id, body) SELECT $1::int + o - 1, b FROM unnest($2::text[]) WITH ORDINALITY u(b, o)`, [from, bodies])
  }
  return chars / n
}

/** The order number appended to message `seq` of session `i` (the SQL below), or null. */
export function orderNumber(i: number, seq: number): number | null {
  return (i + seq) % 20 === 0 ? i * 1000 + seq : null
}

/** SQL: the text of message `k` of plan row `p` from fragments `a`, `b` (see {@link orderNumber}). */
export const MESSAGE_TEXT_SQL = `CASE WHEN k % 2 = 1 THEN a.body ELSE a.body || ' ' || b.body END
  || CASE WHEN (p.i + k) % 20 = 0 THEN ' Order ' || (p.i::bigint * 1000 + k) || '.' ELSE '' END`
