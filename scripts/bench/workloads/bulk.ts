/**
 * Workload 9: messages.createMany of N rows, against the ways to bulk-load with raw pg: COPY FROM
 * STDIN (the floor; the baseline when available), unnest arrays, multi-row VALUES (chunked under
 * the 65 535-parameter limit, in one transaction), and the same with Kysely and Drizzle.
 * Every contender reserves the session's numbers once (`last_seq += n`) and writes explicit `seq`
 * values in the same transaction, as createMany does: left at 0, seq would be assigned by the
 * per-row trigger, which updates the session row once per message.
 */
import { sql } from 'kysely'
import type pg from 'pg'
import type { Db } from '../../../src/index.js'
import type { CreateMessageInput } from '../../../src/models/message.model.js'
import { eq, sql as dsql } from 'drizzle-orm'
import { messages, sessionCounters } from '../drizzle-schema.js'
import { copyFrom, copyText } from '../copy-in.js'
import { SQL } from '../sql.js'
import type { BenchContext, Contender } from '../types.js'
import { affected, check, LABELS } from './common.js'

type Input = Required<Pick<CreateMessageInput, 'sessionId' | 'userId' | 'agentId' | 'role' | 'textContent'>>
/** Parameters per row of the VALUES contenders (seq and the five input columns). */
const COLUMNS = 6
const MAX_PARAMS = 65_535
const CHUNK = Math.floor(MAX_PARAMS / COLUMNS)

/** The rows every contender writes (built once, outside the timing). */
export function bulkInputs(ctx: BenchContext, n: number): Input[] {
  const { seed } = ctx
  return Array.from({ length: n }, (_, k) => ({
    sessionId: seed.bulkSession,
    userId: (k % seed.users) + 1,
    agentId: (k % seed.agents) + 1,
    role: k % 2 === 0 ? ('user' as const) : ('assistant' as const),
    textContent: `bulk message ${k}: lorem ipsum dolor sit amet, consectetur adipiscing elit`,
  }))
}

function chunks<T>(rows: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let at = 0; at < rows.length; at += size) out.push(rows.slice(at, at + size))
  return out
}

function valuesSql(n: number): string {
  const parts: string[] = new Array(n)
  for (let r = 0; r < n; r++) {
    const b = r * COLUMNS
    parts[r] = `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`
  }
  return `INSERT INTO messages (seq, session_id, user_id, agent_id, role, text_content) VALUES ${parts.join(', ')}`
}

/** Parameters of `rows`, numbered from `first`. */
function valuesParams(rows: readonly Input[], first: number): unknown[] {
  const params: unknown[] = new Array(rows.length * COLUMNS)
  rows.forEach((r, k) => {
    const b = k * COLUMNS
    params[b] = first + k
    params[b + 1] = r.sessionId
    params[b + 2] = r.userId
    params[b + 3] = r.agentId
    params[b + 4] = r.role
    params[b + 5] = r.textContent
  })
  return params
}

function unnestParams(rows: readonly Input[]): unknown[][] {
  return [rows.map((r) => r.sessionId), rows.map((r) => r.userId), rows.map((r) => r.agentId), rows.map((r) => r.role), rows.map((r) => r.textContent)]
}

type Client = pg.PoolClient

/**
 * Runs `fn` in one transaction on one client, with `base`: the session's `last_seq` before the
 * `n` numbers reserved for the rows (the rows get base + 1 … base + n).
 */
async function reserving(ctx: BenchContext, session: string, n: number, fn: (client: Client, base: number) => Promise<number>): Promise<number> {
  const client = await ctx.raw.connect()
  try {
    await client.query('BEGIN')
    try {
      const base = Number((await client.query(SQL.bulkReserve, [session, n])).rows[0].base)
      const written = await fn(client, base)
      await client.query('COMMIT')
      return written
    } catch (err) {
      await client.query('ROLLBACK')
      throw err
    }
  } finally {
    client.release()
  }
}

export function bulkContenders(ctx: BenchContext, inputs: Input[]): Contender[] {
  const { raw, kysely, drizzle: d, amdb } = ctx
  const n = inputs.length
  const warmRows = inputs.slice(0, Math.min(1000, n))

  const copy = (rows: Input[]) =>
    reserving(ctx, rows[0]!.sessionId, rows.length, (client, base) => {
      let data = ''
      rows.forEach((r, k) => {
        data += `${base + k + 1}\t${r.sessionId}\t${r.userId}\t${r.agentId}\t${r.role}\t${copyText(r.textContent)}\n`
      })
      return copyFrom(client, SQL.bulkCopy, data)
    })
  const unnest = async (rows: Input[]) => (await raw.query(SQL.bulkUnnest, unnestParams(rows))).rowCount
  const unnestReturning = async (rows: Input[]) => (await raw.query(SQL.bulkUnnestReturning, unnestParams(rows))).rows.length
  const values = (rows: Input[]) =>
    reserving(ctx, rows[0]!.sessionId, rows.length, async (client, base) => {
      let total = 0
      for (const part of chunks(rows, CHUNK)) {
        total += (await client.query(valuesSql(part.length), valuesParams(part, base + total + 1))).rowCount ?? 0
      }
      return total
    })
  const toRow = (r: Input, seq: number) => ({ seq, session_id: r.sessionId, user_id: r.userId, agent_id: r.agentId, role: r.role, text_content: r.textContent })
  const kyselyValues = (rows: Input[]) =>
    kysely.transaction().execute(async (db) => {
      const n = rows.length
      const { base } = await db
        .updateTable('sessions')
        .set({ last_seq: sql<string>`last_seq + ${n}` })
        .where('id', '=', rows[0]!.sessionId)
        .returning(sql<string>`last_seq - ${n}`.as('base'))
        .executeTakeFirstOrThrow()
      let total = 0
      for (const part of chunks(rows, CHUNK)) {
        const first = Number(base) + total + 1
        const result = await db.insertInto('messages').values(part.map((r, k) => toRow(r, first + k))).executeTakeFirst()
        total += Number(result.numInsertedOrUpdatedRows ?? 0n)
      }
      return total
    })
  const drizzleValues = (rows: Input[]) =>
    d.transaction(async (tx) => {
      const n = rows.length
      const [reserved] = await tx
        .update(sessionCounters)
        .set({ lastSeq: dsql`${sessionCounters.lastSeq} + ${n}` })
        .where(eq(sessionCounters.id, rows[0]!.sessionId))
        .returning({ base: dsql<string>`${sessionCounters.lastSeq} - ${n}` })
      let total = 0
      for (const part of chunks(rows, CHUNK)) {
        const first = Number(reserved!.base) + total + 1
        total += affected(await tx.insert(messages).values(part.map((r, k) => ({ ...r, seq: first + k }))))
      }
      return total
    })
  const createMany = async (db: Db, rows: Input[]) => {
    const created = await db.messages.createMany(rows)
    check(created[0]?.sessionId === rows[0]!.sessionId && created[0]!.seq < created[created.length - 1]!.seq, 'rows in input order')
    return created.length
  }

  const contender = (id: string, label: string, write: (rows: Input[]) => Promise<number | null>): Contender => ({
    id,
    label,
    run: async () => {
      const count = await write(inputs)
      check(count === n, `${id}: ${n} rows written, got ${count}`)
    },
    warm: async () => {
      const count = await write(warmRows)
      check(count === warmRows.length, `${id}: ${warmRows.length} rows written, got ${count}`)
    },
  })

  return [
    ...(ctx.copyAvailable ? [contender('pg-copy', 'raw pg, COPY messages FROM STDIN (text format)', copy)] : []),
    contender('pg', `${LABELS.pg}: INSERT … SELECT FROM unnest($1::uuid[], …) (5 arrays)`, unnest),
    contender('pg-unnest-returning', 'raw pg, the same unnest INSERT … RETURNING all 20 columns (what createMany returns)', unnestReturning),
    contender('pg-values', `raw pg, multi-row VALUES, ${CHUNK} rows per statement, one transaction`, values),
    contender('kysely', `Kysely insertInto().values(rows), ${CHUNK} rows per statement, one transaction`, kyselyValues),
    contender('drizzle', `drizzle insert().values(rows), ${CHUNK} rows per statement, one transaction (not prepared)`, drizzleValues),
    ...[amdb, ...ctx.variants].map((a) =>
      contender(a.id, `${a.label}: messages.createMany(rows) → Message[]`, (rows) => createMany(a.db, rows)),
    ),
  ]
}

/** Probes whether COPY FROM STDIN works through this pool (inside a transaction rolled back). */
export async function probeCopy(ctx: Pick<BenchContext, 'raw'>, session: string): Promise<string | null> {
  const client = await ctx.raw.connect()
  try {
    await client.query('BEGIN')
    const base = Number((await client.query(SQL.bulkReserve, [session, 1])).rows[0].base)
    const n = await copyFrom(client, SQL.bulkCopy, `${base + 1}\t${session}\t1\t1\tuser\tprobe\n`)
    await client.query('ROLLBACK')
    return n === 1 ? null : `COPY reported ${n} rows for 1`
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined)
    return err instanceof Error ? err.message : String(err)
  } finally {
    client.release()
  }
}
