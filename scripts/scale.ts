/**
 * `npm run scale`: issue 11's figures at scale, measured on a PostgreSQL server and written
 * into docs/scaling.md. Creates the database `amdb_scale` next to `--url` (dropping an old one),
 * migrates it with the package, loads the data set with set-based SQL (scripts/scale/load.ts),
 * then measures the last-50 read, full-text search, sizes and plans, and `messages.prune` with
 * concurrent writers; drops the database at the end unless `--keep`.
 *
 *   npm run scale                                    # 10M messages over 100k sessions (~25 min on 2 cores)
 *   npm run scale -- --messages 200000 --sessions 2000 --doc ''   # a quick run, nothing written
 */
import pg from 'pg'
import { Db, type Logger } from '../src/index.js'
import { admin, withDatabase } from '../src/testing/server-admin.js'
import { load, sessionId } from './scale/load.js'
import { parseOptions } from './scale/options.js'
import { measurePrune } from './scale/prune.js'
import { measureLast50, measureSearch } from './scale/reads.js'
import { markdown, writeDoc, type Results } from './scale/report.js'
import { explain, machine, sizes } from './scale/sizes.js'

const DATABASE = 'amdb_scale'
const options = parseOptions(process.argv.slice(2))
const log = (line: string) => console.log(line)
const url = withDatabase(options.url, DATABASE)
const started = performance.now()

let dropping: Promise<void> | undefined
const drop = () => (dropping ??= options.keep ? Promise.resolve() : admin(options.url, `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`).then(() => log(`dropped ${DATABASE}`)))
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\nscale: ${signal}, cleaning up…`)
    void drop().finally(() => process.exit(130))
  })
}

let client: pg.Client | undefined
try {
  if (!options.reuse) {
    await admin(options.url, `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`)
    await admin(options.url, `CREATE DATABASE ${DATABASE}`)
    log(`created ${DATABASE}`)
  }
  const migrated = await Db.connect({ url, migrate: true, poolSize: 1 })
  await migrated.close()
  client = new pg.Client({ connectionString: url })
  await client.connect()
  const loadReport = options.reuse ? undefined : await load(client, url, options, log)
  await client.query('RESET work_mem')
  await client.query('RESET maintenance_work_mem')

  // Reads: one Db, one call at a time; a recorder keeps the SQL text of the statements (for EXPLAIN).
  const statements: string[] = []
  const none = () => undefined
  const recorder: Logger = { debug: (o) => statements.push((o as { sql: string }).sql), info: none, warn: none, error: none }
  const db = await Db.connect({ url, poolSize: 2, statementTimeout: 120_000, logger: recorder })
  const perSession = Math.floor(options.messages / options.sessions)
  let reads, search
  try {
    log('last-50 reads…')
    reads = await measureLast50(db, options.sessions, 1000)
    log('full-text search…')
    search = await measureSearch(db, options.sessions, perSession, log)
  } finally {
    await db.close()
  }
  const lastOf = (needle: RegExp) => [...statements].reverse().find((s) => needle.test(s)) ?? ''
  const probe = sessionId(Math.max(1, Math.floor(options.sessions / 3)))
  const plans = [
    { what: 'last 50 of a session (`listBySession`, desc)', lines: await explain(client, lastOf(/^select "id"[^()]* from "messages" where "session_id" = \$1 order by "seq" desc limit \$2$/), [probe, 51]) },
    { what: "search 'invoice', all messages", lines: await explain(client, lastOf(/search_vector @@ q order by/), ['invoice', 21]) },
    { what: "search 'invoice' in one session", lines: await explain(client, lastOf(/search_vector @@ q and "t"."session_id" = \$2 order by/), ['invoice', probe, 21]) },
  ]
  log('sizes…')
  const sizeReport = await sizes(client)
  log('prune with concurrent writers…')
  const prune = await measurePrune(url, client, options.sessions, options.pruneFraction, options.baselineSeconds, log)
  const after = (await client.query(`SELECT (SELECT count(*) FROM messages) AS n, pg_size_pretty(pg_total_relation_size('messages')) AS total, n_dead_tup AS dead FROM pg_stat_user_tables WHERE relname = 'messages'`)).rows[0]
  const results: Results = {
    command: `npm run scale -- ${process.argv.slice(2).join(' ')}`.trim(),
    date: new Date().toISOString(),
    machine: await machine(client),
    reads,
    search,
    prune,
    sizes: sizeReport,
    afterPrune: { messages: Number(after.n), total: after.total, deadRows: Number(after.dead) },
    plans,
    seconds: (performance.now() - started) / 1000,
  }
  if (loadReport) results.load = loadReport
  const block = markdown(results)
  console.log(`\n${block}`)
  if (options.doc) {
    await writeDoc(options.doc, block)
    log(`figures written to ${options.doc}`)
  }
} catch (err) {
  console.error('scale: failed:', err)
  process.exitCode = 1
} finally {
  await client?.end().catch(() => undefined)
  await drop()
}
