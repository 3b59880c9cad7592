/** Table and index sizes, the plans of the measured reads, and the machine they ran on. */
import os from 'node:os'
import type pg from 'pg'

export interface SizeRow {
  name: string
  kind: 'table' | 'index' | 'toast' | 'total'
  bytes: number
  pretty: string
}

export async function sizes(client: pg.Client): Promise<{ rows: SizeRow[]; messages: number; bytesPerMessage: number }> {
  const rows: SizeRow[] = []
  const add = async (name: string, kind: SizeRow['kind'], expr: string) => {
    const r = (await client.query(`SELECT ${expr} AS b, pg_size_pretty(${expr}) AS p`)).rows[0]
    rows.push({ name, kind, bytes: Number(r.b), pretty: r.p as string })
  }
  for (const table of ['messages', 'sessions']) {
    await add(table, 'table', `pg_relation_size('${table}')`)
    await add(`${table} (TOAST)`, 'toast', `pg_total_relation_size('${table}') - pg_relation_size('${table}') - pg_indexes_size('${table}')`)
    const indexes = (await client.query<{ name: string }>(`SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = '${table}'::regclass ORDER BY 1`)).rows
    for (const { name } of indexes) await add(`  ${name}`, 'index', `pg_relation_size('${name}')`)
    if (table === 'messages') await add('messages: all indexes', 'index', `pg_indexes_size('messages')`)
    await add(`${table}: total`, 'total', `pg_total_relation_size('${table}')`)
  }
  await add('database', 'total', 'pg_database_size(current_database())')
  const messages = Number((await client.query(`SELECT count(*) AS n FROM messages`)).rows[0].n)
  const total = rows.find((r) => r.name === 'messages: total')!.bytes
  return { rows, messages, bytesPerMessage: messages ? total / messages : 0 }
}

/** `EXPLAIN (ANALYZE, BUFFERS)` of a statement the package ran (its `$n` replaced by literals): the plan's node lines and timing. */
export async function explain(client: pg.Client, statement: string, args: readonly unknown[]): Promise<string[]> {
  const literal = (v: unknown) => (typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`)
  const text = statement.replace(/\$(\d+)/g, (_, n: string) => literal(args[Number(n) - 1]))
  const plan = (await client.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${text}`)).rows.map((r) => r['QUERY PLAN'] as string)
  const planning = plan.indexOf('Planning:')
  const body = planning >= 0 ? plan.slice(0, planning) : plan.filter((l) => !l.startsWith('Planning'))
  const end = plan.filter((l) => l.startsWith('Execution Time'))
  return [...body.filter((l) => /->|^\S|Buffers|Index Cond|Recheck|Filter|Rows Removed|Heap Blocks/.test(l)), ...end].map((l) => l.replace(/\s+$/, ''))
}

export interface Machine {
  cpus: number
  cpuModel: string
  ramGb: number
  load: string
  server: string
  settings: Record<string, string>
}

export async function machine(client: pg.Client): Promise<Machine> {
  const settings: Record<string, string> = {}
  for (const name of ['shared_buffers', 'work_mem', 'maintenance_work_mem', 'effective_cache_size', 'max_wal_size', 'random_page_cost', 'max_parallel_workers_per_gather', 'jit']) {
    settings[name] = (await client.query(`SELECT current_setting($1) AS v`, [name])).rows[0].v as string
  }
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? '?',
    ramGb: Math.round(os.totalmem() / 2 ** 30),
    load: os.loadavg().map((l) => l.toFixed(2)).join(' '),
    server: (await client.query(`SELECT version() AS v`)).rows[0].v as string,
    settings,
  }
}
