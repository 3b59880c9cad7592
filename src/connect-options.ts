import pg from 'pg'
import { parseIntoClientConfig } from 'pg-connection-string'
import { ConnectionError, DataLayerError, ValidationError, type FieldIssue } from './errors.js'
import { diskFolder, lockDataDir, type DataDirLock } from './data-dir-lock.js'
import type { Logger } from './logger.js'
import type { PGlite } from '@electric-sql/pglite'
import { embeddedExtensions } from './embedded-extensions.js'
import type { AppMigrations } from './migration-sources.js'
import { typeParsers } from './execution/type-parsers.js'
import { telemetryOptionProblem, type TelemetryOption } from './telemetry/options.js'

/**
 * How {@link Db.connect} reaches its database.
 *
 * - `url` (or the `DATABASE_URL` environment variable): real PostgreSQL through a `pg.Pool`.
 * - `dataDir`: embedded PGlite persisted in that folder (one process at a time).
 * - `embedded: true`: embedded PGlite in memory, even when DATABASE_URL is set.
 * - none of these: PGlite in memory with a warning to `logger`; with `NODE_ENV=production`,
 *   a DataLayerError `NO_DATABASE` instead.
 */
export interface DbOptions {
  /** `postgres://user:password@host:port/database`. Defaults to `process.env.DATABASE_URL`. */
  url?: string
  /**
   * Embedded only: keep the PGlite database in this folder instead of in memory. One process
   * (and one Db) at a time: the folder holds a lock file, `automagik-db.lock`, while a Db has it
   * open; a second opener gets ConnectionError `DATA_DIR_LOCKED` at once. A lock left by a process
   * that died (`kill -9`, a crash, a reboot) is taken over.
   */
  dataDir?: string
  /** Force the embedded database even when DATABASE_URL is set. */
  embedded?: boolean
  /** Connections in the pool (server only; PGlite has one). Default 10. */
  poolSize?: number
  /** Server-side `statement_timeout` in ms (0 = none). Default 30 000. */
  statementTimeout?: number
  /**
   * Client-side limit in ms for one statement to get an answer (0 = off). When it passes, the
   * connection is dropped and the caller gets TimeoutError `CLIENT_TIMEOUT`: the guard against a
   * frozen server or network, which the server's own statement_timeout cannot catch. Default:
   * `statementTimeout` + 5 000 on a server (off when statementTimeout is 0), off on PGlite.
   * Server only. Migrations are never cut short by it. Raise it (or set 0) when you raise `statement_timeout`
   * yourself (`SET LOCAL statement_timeout`) beyond it.
   */
  clientTimeout?: number
  /** Limit in ms for opening a connection and for waiting for a free one. Default 10 000. */
  connectTimeout?: number
  /** An idle connection is closed after this many ms. Default 30 000. */
  idleTimeout?: number
  /** `application_name` shown in pg_stat_activity. Default `automagik-db`. */
  applicationName?: string
  /**
   * Named prepared statements (each connection parses and plans a query once). Default true;
   * set false behind PgBouncer in transaction mode older than 1.21 or without
   * `max_prepared_statements`.
   */
  preparedStatements?: boolean
  /**
   * Named prepared statements kept per connection (default 256): past this the least recently
   * used is deallocated on the server. Ignored when `preparedStatements` is false.
   */
  statementCacheSize?: number
  /**
   * How long `close()` lets queries and transactions in flight finish, in ms. After it, a
   * connection still checked out takes no more statements (every one fails with DbClosedError,
   * a COMMIT included) and its transaction is rolled back, never committed: on a server, the
   * running statement is cancelled and the connection destroyed; on PGlite, which runs on this
   * process's event loop and cannot interrupt a statement, ROLLBACK runs once the statement in
   * progress ends, then PGlite closes. `close()` always ends. Default 10 000.
   */
  closeTimeout?: number
  /** Run pending migrations while connecting. Default false. */
  migrate?: boolean
  /**
   * The app's own migrations, run by `migrate()` after the package's and tracked apart from them:
   * a record of Kysely migrations (`{ up, down? }` by name, applied in name order) or the path
   * of a folder with one module per migration (`.js`, `.mjs`, or `.ts` where Node imports TypeScript).
   */
  migrations?: AppMigrations
  /** Receives warnings and, at debug level, each query's SQL text and duration. */
  logger?: Logger
  /**
   * OpenTelemetry spans and metrics (see the README, Observability). Default: on when
   * `@opentelemetry/api` is installed, through the global tracer and meter providers (none
   * registered: nothing recorded, next to no cost); `false` turns it off; or give the providers.
   */
  telemetry?: TelemetryOption
  /**
   * Read replicas (server only): URLs of streaming replicas of `url`. Repository reads outside a
   * transaction go to them in turn; writes, transactions, `query`, `batch`, `withConnection` and
   * `kysely` go to the primary (see the README, Read replicas). Each replica gets its own pool
   * with this Db's options.
   */
  replicas?: readonly string[]
  /**
   * With replicas: a read goes to a replica only once it has replayed every write this Db (and
   * the Dbs made from it) committed before the read began; otherwise to the primary. Default true.
   */
  readYourWrites?: boolean
  /** With replicas: a replica whose data is older than this many ms is skipped. Default 10 000. */
  maxReplicaLag?: number
  /** @internal automagik-db/testing: a PGlite already started (from a snapshot), used instead of starting one; closed with the Db. */
  pglite?: PGlite
}

/** The resolved settings, with the password kept out of every enumerable property. */
export interface ResolvedConnection {
  backend: 'postgres' | 'pglite'
  pool: pg.Pool
  /** Host, port and database (never the password), for messages and `inspect`. */
  target: string
  /** The server's host, port and database name (server only), for telemetry attributes. */
  server?: { address: string; port: number; database: string | undefined }
  secrets: string[]
  /** How long close() lets work in flight finish, in ms. */
  closeTimeout: number
  /** Frees what the backend holds beyond the pool (the pool itself is ended by Kysely). */
  close(): Promise<void>
}

export const DEFAULTS = {
  poolSize: 10,
  statementTimeout: 30_000,
  connectTimeout: 10_000,
  idleTimeout: 30_000,
  closeTimeout: 10_000,
  applicationName: 'automagik-db',
  statementCacheSize: 256,
} as const

const MS_OPTIONS = ['statementTimeout', 'clientTimeout', 'connectTimeout', 'idleTimeout', 'closeTimeout'] as const

/** Rejects option values of the wrong type or range before anything is opened. */
export function checkOptions(options: DbOptions): void {
  const issues: FieldIssue[] = []
  for (const key of MS_OPTIONS) {
    const v = options[key]
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) issues.push({ field: key, messages: [`${key} must be a whole number of ms, 0 or more`] })
  }
  const size = options.poolSize
  if (size !== undefined && (!Number.isInteger(size) || size < 1 || size > 1000)) {
    issues.push({ field: 'poolSize', messages: ['poolSize must be an integer from 1 to 1000'] })
  }
  for (const key of ['url', 'dataDir', 'applicationName'] as const) {
    const v = options[key]
    if (v !== undefined && (typeof v !== 'string' || v === '')) issues.push({ field: key, messages: [`${key} must be a non-empty string`] })
  }
  const cache = options.statementCacheSize
  if (cache !== undefined && (!Number.isInteger(cache) || cache < 1 || cache > 100_000)) {
    issues.push({ field: 'statementCacheSize', messages: ['statementCacheSize must be an integer from 1 to 100000'] })
  }
  const m: unknown = options.migrations
  const record = typeof m === 'object' && m !== null && Object.getPrototypeOf(m) === Object.prototype
  if (m !== undefined && !record && !(m instanceof URL && m.protocol === 'file:') && (typeof m !== 'string' || m === '')) {
    issues.push({ field: 'migrations', messages: ['migrations must be a folder (a path or a file: URL) or a record of migrations'] })
  }
  if (options.url !== undefined && (options.dataDir !== undefined || options.embedded)) {
    issues.push({ field: 'url', messages: ['url cannot be combined with dataDir or embedded: pick one database'] })
  }
  issues.push(...replicaOptionIssues(options))
  const telemetry = telemetryOptionProblem(options.telemetry)
  if (telemetry !== undefined) issues.push({ field: 'telemetry', messages: [telemetry] })
  if (issues.length > 0) throw new ValidationError(issues, 'Db.connect')
}

/** What is wrong with `replicas`, `readYourWrites` and `maxReplicaLag`. */
function replicaOptionIssues(options: DbOptions): FieldIssue[] {
  const issues: FieldIssue[] = []
  const { replicas, readYourWrites, maxReplicaLag } = options
  if (replicas !== undefined) {
    if (!Array.isArray(replicas)) {
      issues.push({ field: 'replicas', messages: ['replicas must be an array of PostgreSQL URLs'] })
    } else if (replicas.some((r) => !isServerUrl(r))) {
      // Never the URL itself in the message: it may hold a password.
      const bad = replicas.flatMap((r, i) => (isServerUrl(r) ? [] : [`replicas[${i}] (${r === undefined ? 'undefined: an unset environment variable?' : typeof r})`]))
      issues.push({ field: 'replicas', messages: [`not a postgres:// or postgresql:// URL: ${bad.join(', ')}`] })
    } else if (replicas.length > 0 && (options.embedded || options.dataDir !== undefined)) {
      issues.push({ field: 'replicas', messages: ['replicas need a PostgreSQL server (url or DATABASE_URL), not the embedded database'] })
    }
  }
  if (readYourWrites !== undefined && typeof readYourWrites !== 'boolean') {
    issues.push({ field: 'readYourWrites', messages: ['readYourWrites must be true or false'] })
  }
  if (maxReplicaLag !== undefined && (!Number.isInteger(maxReplicaLag) || maxReplicaLag < 0)) {
    issues.push({ field: 'maxReplicaLag', messages: ['maxReplicaLag must be a whole number of ms, 0 or more'] })
  }
  return issues
}

/** A `postgres://` / `postgresql://` URL that pg can parse. */
const isServerUrl = (url: unknown): boolean => {
  if (typeof url !== 'string' || !/^postgres(ql)?:\/\//i.test(url)) return false
  try {
    parseIntoClientConfig(url)
    return true
  } catch {
    return false
  }
}

/** Builds the pool for a server URL. The URL and password are never stored as strings on it. */
export function serverPool(url: string, options: DbOptions): ResolvedConnection {
  let parsed: pg.ClientConfig
  try {
    parsed = parseIntoClientConfig(url)
  } catch {
    // The parser's error can quote the URL, password included: say only that it is invalid.
    throw new ConnectionError('the database URL is not a valid PostgreSQL connection string', {
      code: 'INVALID_URL',
    })
  }
  const password = typeof parsed.password === 'string' ? parsed.password : undefined
  const { password: _omit, connectionString: _omitUrl, ...rest } = parsed as pg.ClientConfig & {
    connectionString?: string
  }
  const statementTimeout = options.statementTimeout ?? DEFAULTS.statementTimeout
  const config: pg.PoolConfig = {
    ...rest,
    max: options.poolSize ?? DEFAULTS.poolSize,
    connectionTimeoutMillis: options.connectTimeout ?? DEFAULTS.connectTimeout,
    idleTimeoutMillis: options.idleTimeout ?? DEFAULTS.idleTimeout,
    application_name: options.applicationName ?? rest.application_name ?? DEFAULTS.applicationName,
    keepAlive: true,
    types: typeParsers,
  }
  if (statementTimeout > 0) config.statement_timeout = statementTimeout
  // A function keeps the password out of pool.options, logs and util.inspect.
  if (password !== undefined) config.password = () => password
  const closeTimeout = options.closeTimeout ?? DEFAULTS.closeTimeout
  const pool = new pg.Pool(config)
  const target = `postgres://${rest.host ?? 'localhost'}:${rest.port ?? 5432}/${rest.database ?? ''}`
  const secrets = password ? unique([password, encodeURIComponent(password)]) : []
  const server = { address: rest.host ?? 'localhost', port: Number(rest.port ?? 5432), database: rest.database }
  return { backend: 'postgres', pool, target, server, secrets, closeTimeout, close: async () => undefined }
}

/**
 * Embedded PGlite (in memory, or in `dataDir`) behind a one-connection `pg.Pool`. A `dataDir` on
 * disk is locked for this process first (see {@link lockDataDir}) and unlocked on close.
 */
export async function embeddedPool(options: DbOptions): Promise<ResolvedConnection> {
  checkMemoryFallback(options)
  const closeTimeout = options.closeTimeout ?? DEFAULTS.closeTimeout
  const [{ PGlite }, { createPgConfig }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite/node-postgres'),
  ])
  const folder = options.dataDir === undefined ? undefined : diskFolder(options.dataDir)
  const lock = folder === undefined ? undefined : await lockDataDir(folder)
  let pglite: Awaited<ReturnType<typeof PGlite.create>>
  try {
    pglite = options.pglite ?? (await PGlite.create(options.dataDir, { extensions: await embeddedExtensions() }))
    await lock?.confirm()
  } catch (err) {
    await lock?.release().catch(() => undefined)
    throw new ConnectionError(`the embedded database could not start${options.dataDir ? ` in ${options.dataDir}` : ''}`, {
      code: 'EMBEDDED',
      cause: err,
    })
  }
  const pgConfig = createPgConfig(pglite)
  const pool = new pg.Pool({
    ...(pgConfig as unknown as pg.PoolConfig),
    max: 1,
    types: typeParsers,
    // The single PGlite session must never be closed while the Db lives.
    idleTimeoutMillis: 0,
    connectionTimeoutMillis: options.connectTimeout ?? DEFAULTS.connectTimeout,
  })
  const target = options.dataDir ? `pglite:${options.dataDir}` : 'pglite:memory'
  return {
    backend: 'pglite',
    pool,
    target,
    secrets: [],
    closeTimeout,
    close: () => closeEmbedded(pglite, lock),
  }
}

/**
 * Closes PGlite and unlocks its folder. A transaction still open on its one session (its caller
 * never ended it, and closeTimeout has passed) is rolled back first, explicitly: never committed.
 */
async function closeEmbedded(pglite: PGlite, lock: DataDirLock | undefined): Promise<void> {
  try {
    if (!pglite.closed && pglite.isInTransaction()) await pglite.exec('ROLLBACK').catch(() => undefined)
    if (!pglite.closed) await pglite.close()
  } finally {
    await lock?.release()
  }
}

/**
 * The in-memory fallback (no `url`, `DATABASE_URL`, `dataDir` or `embedded: true`) is refused
 * with NODE_ENV=production: a production app that forgot its database URL must not start on a
 * database that vanishes with the process. Elsewhere it is allowed, with one warning.
 */
function checkMemoryFallback(options: DbOptions): void {
  if (options.embedded === true || options.dataDir !== undefined || options.pglite !== undefined) return
  if (process.env.NODE_ENV === 'production') {
    throw new DataLayerError(
      'no database chosen: NODE_ENV is production and neither `url`, DATABASE_URL nor `dataDir` is set, ' +
        'so Db.connect() would start an in-memory database that is lost when the process ends. Set ' +
        "DATABASE_URL (or pass { url }) for PostgreSQL, pass { dataDir: './data' } for embedded PGlite on " +
        'disk, or pass { embedded: true } if an in-memory database is what you want.',
      { code: 'NO_DATABASE' },
    )
  }
  options.logger?.warn(
    { backend: 'pglite', target: 'pglite:memory' },
    'automagik-db: no url, DATABASE_URL or dataDir given: using an in-memory embedded database, lost ' +
      'when the process ends (pass { embedded: true } to choose it explicitly and silence this warning)',
  )
}

const unique = (values: string[]): string[] => [...new Set(values.filter((v) => v !== ''))]
