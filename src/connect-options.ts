import pg from 'pg'
import { parseIntoClientConfig } from 'pg-connection-string'
import { ConnectionError, ValidationError, type FieldIssue } from './errors.js'
import type { Logger } from './logger.js'
import { typeParsers } from './execution/type-parsers.js'

/**
 * How {@link Db.connect} reaches its database.
 *
 * - `url` (or the `DATABASE_URL` environment variable): real PostgreSQL through a `pg.Pool`.
 * - neither: embedded PGlite in memory; with `dataDir`, PGlite persisted in that folder.
 */
export interface DbOptions {
  /** `postgres://user:password@host:port/database`. Defaults to `process.env.DATABASE_URL`. */
  url?: string
  /** Embedded only: keep the PGlite database in this folder instead of in memory. */
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
   * How long `close()` lets queries and transactions in flight finish, in ms. After it, statements
   * still running are cancelled (the server rolls them back) and the remaining connections are
   * destroyed, so `close()` always ends. Default 10 000.
   */
  closeTimeout?: number
  /** Run pending migrations while connecting. Default false. */
  migrate?: boolean
  /** Receives warnings and, at debug level, each query's SQL text and duration. */
  logger?: Logger
}

/** The resolved settings, with the password kept out of every enumerable property. */
export interface ResolvedConnection {
  backend: 'postgres' | 'pglite'
  pool: pg.Pool
  /** Host, port and database (never the password), for messages and `inspect`. */
  target: string
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
  if (issues.length > 0) throw new ValidationError(issues, 'Db.connect')
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
  return { backend: 'postgres', pool, target, secrets, closeTimeout, close: async () => undefined }
}

/** Starts embedded PGlite (in memory, or in `dataDir`) behind a one-connection `pg.Pool`. */
export async function embeddedPool(options: DbOptions): Promise<ResolvedConnection> {
  const closeTimeout = options.closeTimeout ?? DEFAULTS.closeTimeout
  const [{ PGlite }, { createPgConfig }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite/node-postgres'),
  ])
  let pglite: Awaited<ReturnType<typeof PGlite.create>>
  try {
    pglite = await PGlite.create(options.dataDir)
  } catch (err) {
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
    close: () => pglite.close(),
  }
}

const unique = (values: string[]): string[] => [...new Set(values.filter((v) => v !== ''))]
