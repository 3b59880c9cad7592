import type { Pool, PoolClient } from 'pg'
import { ConnectionError, DbClosedError, type DataLayerError } from '../errors.js'
import { translateError } from '../pg-errors.js'
import { redactSecrets } from '../redact.js'
import { logQuery } from '../query-log.js'
import type { Logger } from '../logger.js'
import { CompiledShapes } from './compiled-shapes.js'
import { PgConnection, type ConnectionHost } from './pg-connection.js'
import { CANCEL_GRACE_MS, settlesWithin } from './cancel.js'

/** How a runner behaves; set once by `Db.connect`. */
export interface QueryRunnerOptions {
  backend: 'postgres' | 'pglite'
  /** Name statements by their SQL text so each connection parses and plans them once. */
  preparedStatements: boolean
  /** Named statements kept per connection (least recently used evicted and deallocated). */
  statementCapacity: number
  /** Client-side limit per statement in ms (0 = none): a frozen server's connection is dropped. */
  clientTimeout: number
  /** How long `end()` lets checked-out connections finish, in ms. */
  closeTimeout: number
  logger: Logger | undefined
  /** Strings that must never appear in an error message or log record (the password). */
  secrets: readonly string[]
}

/** How a connection is made clean before it re-enters the pool. */
export type ReleaseMode =
  /** Roll back a transaction left open; deallocate evicted statements. */
  | 'idle'
  /** Also reset the session but keep its prepared statements: settings, role, advisory locks, temp tables, cursors, listens. */
  | 'session'
  /** Also reset the session (`DISCARD ALL`): settings, advisory locks, temp tables, statements. */
  | 'reset'

/** `DISCARD ALL` but for the prepared statements (one round trip). */
const RESET_SESSION =
  'CLOSE ALL; RESET SESSION AUTHORIZATION; RESET ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP'

/**
 * The one path from a root Db (and every transaction, savepoint and pinned connection made from
 * it) to the driver. It owns the pool, the state of each pooled connection (named statements,
 * transaction status, failures), the compiled repository queries, the client watchdog, and the
 * rule that a connection re-enters the pool only idle and clean.
 *
 * @example
 * ```ts
 * const conn = await runner.acquire()
 * try { await conn.query('SELECT 1', [], false) } finally { await runner.release(conn, 'idle') }
 * ```
 */
export class QueryRunner implements ConnectionHost {
  readonly #pool: Pool
  readonly #options: QueryRunnerOptions
  readonly #connections = new WeakMap<PoolClient, PgConnection>()
  /** Connections handed out and not yet released. */
  readonly #checkedOut = new Set<PgConnection>()
  readonly #shapes = new Map<string, CompiledShapes>()
  #closed = false
  #watchdog: NodeJS.Timeout | undefined
  #ended: Promise<void> | undefined

  constructor(pool: Pool, options: QueryRunnerOptions) {
    this.#pool = pool
    this.#options = options
    pool.on('error', (err) => {
      // An idle client lost its connection: pg removes it from the pool. Without this listener
      // the 'error' event would crash the process.
      this.warn({ err: this.describe(err) }, 'automagik-db: idle connection lost')
    })
  }

  get preparedStatements(): boolean {
    return this.#options.preparedStatements
  }
  get statementCapacity(): number {
    return this.#options.statementCapacity
  }
  get clientTimeout(): number {
    return this.#options.clientTimeout
  }
  get closeTimeout(): number {
    return this.#options.closeTimeout
  }
  /** True once `end()` was called: new work fails with DbClosedError. */
  get closed(): boolean {
    return this.#closed
  }
  get singleConnection(): boolean {
    return this.#options.backend === 'pglite'
  }

  /** Pool counters, for monitoring. */
  get stats(): { total: number; idle: number; waiting: number } {
    return { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount }
  }

  /** True when `conn` is checked out right now (used to detect a self-deadlock on PGlite). */
  holds(conn: PgConnection): boolean {
    return this.#checkedOut.has(conn)
  }

  /** The compiled repository queries for one schema (`''`: the connection's search_path). */
  shapes(schema: string): CompiledShapes {
    let shapes = this.#shapes.get(schema)
    if (shapes === undefined) this.#shapes.set(schema, (shapes = new CompiledShapes()))
    return shapes
  }

  /** Checks a connection out of the pool. */
  acquire(): Promise<PgConnection> {
    if (this.#closed) return Promise.reject(new DbClosedError())
    return this.#pool.connect().then(
      (client) => this.#adopt(client),
      (err: unknown) => {
        throw this.#connectError(err)
      },
    )
  }

  #adopt(client: PoolClient): PgConnection {
    let conn = this.#connections.get(client)
    if (conn === undefined) {
      conn = new PgConnection(client, this)
      this.#connections.set(client, conn)
    }
    this.#checkedOut.add(conn.lend())
    if (this.#options.clientTimeout > 0) this.#watchdog ??= this.#startWatchdog()
    return conn
  }

  #connectError(err: unknown): Error {
    if (this.#closed) return new DbClosedError({ cause: this.redact(err) })
    const message = err instanceof Error ? err.message : ''
    if (message === 'timeout exceeded when trying to connect') {
      // pg-pool says this only when the caller waited in the queue for a busy pool.
      const waitedFor = this.#pool.options.connectionTimeoutMillis
      const text = this.singleConnection
        ? `no connection within ${waitedFor} ms: the embedded database's only connection is held ` +
          "by an open transaction (a test fixture?). Run this query on the transaction's Db."
        : `no free connection within ${waitedFor} ms: all ${this.#pool.options.max} connections of ` +
          'the pool are busy (raise poolSize or connectTimeout, or shorten transactions)'
      return this.redact(new ConnectionError(text, { code: 'POOL_TIMEOUT', cause: err }))
    }
    // Any failure to get a connection is a connection failure, whatever the server said
    // (28P01 wrong password, 3D000 no such database, 53300 too many connections, …).
    const typed = this.translate(err)
    if (typed instanceof ConnectionError) return typed
    const code = typed.code === 'QUERY' ? 'CONNECTION' : typed.code
    return this.redact(new ConnectionError(typed.message, { code, cause: err }))
  }

  /**
   * Returns a connection to the pool, idle and clean: a transaction left open is rolled back,
   * evicted statements are deallocated, and with `reset` the session is reset. A connection
   * that cannot be made clean is discarded (on PGlite, which has only one, a warning is logged).
   * Resolves to true when a transaction had been left open.
   */
  async release(conn: PgConnection, mode: ReleaseMode): Promise<boolean> {
    if (mode === 'idle' && this.releaseIfClean(conn)) return false
    const status = conn.txStatus
    let wasOpen = false
    let discard = conn.broken
    if (!discard) {
      try {
        if (status !== 'I') {
          wasOpen = true
          await conn.rollback()
        }
        if (mode === 'reset') {
          await conn.control('DISCARD ALL')
          conn.discarded()
        } else {
          if (mode === 'session') await conn.control(RESET_SESSION)
          await conn.tidy()
        }
      } catch (err) {
        this.warn({ err: this.describe(err) }, 'automagik-db: a connection could not be made clean; discarding it')
        discard = true
      }
    }
    this.#giveBack(conn, discard)
    return wasOpen
  }

  /**
   * The common case without a round trip or a promise: an idle connection with nothing to tidy
   * goes straight back. False when it needs {@link release}.
   */
  releaseIfClean(conn: PgConnection): boolean {
    if (conn.broken || conn.txStatus !== 'I' || conn.statements.hasPendingDeallocation) return false
    this.#giveBack(conn, false)
    return true
  }

  #giveBack(conn: PgConnection, discard: boolean): void {
    this.#checkedOut.delete(conn)
    conn.client.release(discard && !this.singleConnection ? true : undefined)
  }

  /**
   * One timer per pool instead of one per statement: every so often, drops the connections whose
   * statement has waited longer than the client timeout for the server's answer.
   */
  #startWatchdog(): NodeJS.Timeout {
    const limit = this.#options.clientTimeout
    const timer = setInterval(
      () => {
        const now = performance.now()
        for (const conn of this.#checkedOut) {
          if (conn.waitingFor(now) > limit) conn.timeOut()
        }
      },
      Math.max(10, Math.min(500, limit / 4)),
    )
    timer.unref()
    return timer
  }

  /**
   * Closes the pool gracefully: new work fails with DbClosedError at once, idle connections close,
   * and connections in use may finish until `closeTimeout`. Then those connections take no more
   * statements (a late COMMIT fails with DbClosedError) and their transactions end rolled back:
   * on a server their running statements are cancelled and, after a short grace, their sockets
   * destroyed; on PGlite, which cannot interrupt a statement, ROLLBACK is sent and runs as soon as
   * the statement in progress (if any) ends. This always ends.
   */
  end(): Promise<void> {
    this.#closed = true
    this.#ended ??= this.#end().finally(() => clearInterval(this.#watchdog))
    return this.#ended
  }

  async #end(): Promise<void> {
    const ended = this.#pool.end().catch((err: unknown) => {
      this.warn({ err: this.describe(err) }, 'automagik-db: closing the pool failed')
    })
    const limit = this.#options.closeTimeout
    if (await settlesWithin(ended, limit)) return
    const busy = [...this.#checkedOut]
    this.warn(
      { connections: busy.length, closeTimeout: limit },
      'automagik-db: close timeout passed; cancelling the statements still running',
    )
    await Promise.all(busy.map((c) => c.cancelForClose()))
    if (this.singleConnection) await Promise.all(busy.map((c) => this.#rollBackForClose(c)))
    if (await settlesWithin(ended, CANCEL_GRACE_MS)) return
    // Still held (a transaction waiting on its caller, or a server that does not answer): cut
    // the sockets. The server rolls back any transaction left open on them.
    for (const c of this.#checkedOut) c.destroy()
    await settlesWithin(ended, CANCEL_GRACE_MS)
  }

  /**
   * PGlite after closeTimeout: its one session can't be cut like a socket, so the transaction left
   * open on it (a handle never ended, a callback stuck awaiting) is rolled back here, explicitly.
   */
  async #rollBackForClose(conn: PgConnection): Promise<void> {
    if (conn.txStatus === 'I') return
    const rolledBack = conn.rollback().catch((err: unknown) => {
      this.warn({ err: this.describe(err) }, 'automagik-db: rollback at close failed')
    })
    await settlesWithin(rolledBack, CANCEL_GRACE_MS)
  }

  closedForWork(): DbClosedError {
    return new DbClosedError({
      message:
        `the Db was closed and closeTimeout (${this.#options.closeTimeout} ms) has passed: this ` +
        'connection takes no more statements, and its open transaction is rolled back, not committed',
    })
  }

  /** Where cancel requests go (the server's host and port). */
  get cancelTarget(): { host: string; port: number } | undefined {
    if (this.singleConnection) return undefined
    const { host, port } = this.#pool.options as { host?: string; port?: number }
    return { host: host ?? 'localhost', port: Number(port ?? 5432) }
  }

  /** Typed, with every secret removed. */
  translate(err: unknown): DataLayerError {
    return this.redact(translateError(err))
  }

  /** Removes every secret from an error and its cause chain. Mutates and returns `err`. */
  redact<E>(err: E): E {
    redactSecrets(err, this.#options.secrets)
    return err
  }

  /**
   * A plain, redacted description of an error for log records: never the error object itself,
   * which can carry the pg client (and through it the connection parameters).
   */
  describe(err: unknown): Record<string, unknown> {
    const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as Record<string, unknown>
    const out: Record<string, unknown> = {
      type: e instanceof Error ? e.name : typeof err,
      message: typeof e.message === 'string' ? e.message : String(err),
    }
    if (typeof e.code === 'string') out.code = e.code
    if (typeof e.stack === 'string') out.stack = e.stack
    redactSecrets(out, this.#options.secrets)
    return out
  }

  /** True when statements are logged (their start time is worth taking). */
  get logging(): boolean {
    return this.#options.logger !== undefined
  }

  /** Each statement's SQL and duration at debug level; failures at warn (never parameter values). */
  logQuery(sql: string, parameters: readonly unknown[], started: number, error?: unknown): void {
    const logger = this.#options.logger
    if (logger === undefined) return
    const queryDurationMillis = performance.now() - started
    const query = { sql, parameters, query: undefined as never, queryId: undefined as never }
    if (error === undefined) logQuery(logger, { level: 'query', query, queryDurationMillis })
    else logQuery(logger, { level: 'error', query, queryDurationMillis, error: this.redact(error) })
  }

  warn(obj: object, message: string): void {
    this.#options.logger?.warn(obj, message)
  }
}
