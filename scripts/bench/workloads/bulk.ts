/**
 * Workload 9: messages.createMany of N rows, against the ways to bulk-load with raw pg: COPY FROM
 * STDIN (the floor; the baseline when available), unnest arrays, multi-row VALUES (chunked under
 * the 65 535-parameter limit, in one transaction), and the same with Kysely and Drizzle.
 */
import type { Db } from '../../../src/index.js'
import type { CreateMessageInput } from '../../../src/models/message.model.js'
import { messages } from '../drizzle-schema.js'
import { copyFrom, copyText } from '../copy-in.js'
import { SQL } from '../sql.js'
import type { BenchContext, Contender } from '../types.js'
import { affected, check, LABELS } from './common.js'

type Input = Required<Pick<CreateMessageInput, 'sessionId' | 'userId' | 'agentId' | 'role' | 'textContent'>>
const COLUMNS = 5
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
    parts[r] = `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5})`
  }
  return `INSERT INTO messages (session_id, user_id, agent_id, role, text_content) VALUES ${parts.join(', ')}`
}

function valuesParams(rows: readonly Input[]): unknown[] {
  const params: unknown[] = new Array(rows.length * COLUMNS)
  rows.forEach((r, k) => {
    const b = k * COLUMNS
    params[b] = r.sessionId
    params[b + 1] = r.userId
    params[b + 2] = r.agentId
    params[b + 3] = r.role
    params[b + 4] = r.textContent
  })
  return params
}

function unnestParams(rows: readonly Input[]): unknown[][] {
  return [rows.map((r) => r.sessionId), rows.map((r) => r.userId), rows.map((r) => r.agentId), rows.map((r) => r.role), rows.map((r) => r.textContent)]
}

/** Runs `fn` in one transaction on one client when there is more than one statement. */
async function atomically(ctx: BenchContext, statements: number, fn: (q: (text: string, values: unknown[]) => Promise<number>) => Promise<number>): Promise<number> {
  const client = await ctx.raw.connect()
  const q = async (text: string, values: unknown[]) => (await client.query(text, values)).rowCount ?? 0
  try {
    if (statements === 1) return await fn(q)
    await client.query('BEGIN')
    try {
      const n = await fn(q)
      await client.query('COMMIT')
      return n
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

  const copy = async (rows: Input[]) => {
    let data = ''
    for (const r of rows) {
      data += `${r.sessionId}\t${r.userId}\t${r.agentId}\t${r.role}\t${copyText(r.textContent)}\n`
    }
    const client = await raw.connect()
    try {
      return await copyFrom(client, SQL.bulkCopy, data)
    } finally {
      client.release()
    }
  }
  const unnest = async (rows: Input[]) => (await raw.query(SQL.bulkUnnest, unnestParams(rows))).rowCount
  const unnestReturning = async (rows: Input[]) => (await raw.query(SQL.bulkUnnestReturning, unnestParams(rows))).rows.length
  const values = (rows: Input[]) => {
    const parts = chunks(rows, CHUNK)
    return atomically(ctx, parts.length, async (q) => {
      let total = 0
      for (const part of parts) total += await q(valuesSql(part.length), valuesParams(part))
      return total
    })
  }
  const toRow = (r: Input) => ({ session_id: r.sessionId, user_id: r.userId, agent_id: r.agentId, role: r.role, text_content: r.textContent })
  const kyselyValues = async (rows: Input[]) => {
    const parts = chunks(rows, CHUNK)
    const write = async (db: typeof kysely) => {
      let total = 0
      for (const part of parts) {
        const result = await db.insertInto('messages').values(part.map(toRow)).executeTakeFirst()
        total += Number(result.numInsertedOrUpdatedRows ?? 0n)
      }
      return total
    }
    return parts.length === 1 ? write(kysely) : kysely.transaction().execute(write)
  }
  const drizzleValues = async (rows: Input[]) => {
    const parts = chunks(rows, CHUNK)
    const write = async (db: Pick<typeof d, 'insert'>) => {
      let total = 0
      for (const part of parts) total += affected(await db.insert(messages).values(part))
      return total
    }
    return parts.length === 1 ? write(d) : d.transaction(write)
  }
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
    const n = await copyFrom(client, SQL.bulkCopy, `${session}\t1\t1\tuser\tprobe\n`)
    await client.query('ROLLBACK')
    return n === 1 ? null : `COPY reported ${n} rows for 1`
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined)
    return err instanceof Error ? err.message : String(err)
  } finally {
    client.release()
  }
}
