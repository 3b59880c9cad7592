import { inspect } from 'node:util'
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  type ControlledTransaction,
  type IsolationLevel,
  type LogEvent,
} from 'kysely'
import type { Database } from './generated/database.js'
import { DEFAULTS, embeddedPool, serverPool, type DbOptions, type ResolvedConnection } from './connect-options.js'
import { PoolAdapter, transactionScope } from './pool-adapter.js'
import { createMigrator, toStatus, unwrapMigrationResult, type MigrationStatus } from './migrator.js'
import { DataLayerError, ValidationError } from './errors.js'
import { translateError } from './pg-errors.js'
import {
  runTransaction,
  startTransaction,
  type TransactionHandle,
  type TransactionOptions,
  type TransactionPort,
  EndedGuard,
  SavepointLock,
} from './transaction.js'
import type { Logger } from './logger.js'
import { logQuery } from './query-log.js'
import { AgentRepository } from './repositories/agent.repository.js'
import { UserRepository } from './repositories/user.repository.js'
import { SessionRepository } from './repositories/session.repository.js'
import { MessageRepository } from './repositories/message.repository.js'
import { MemoryRepository } from './repositories/memory.repository.js'

/** What every Db bound to the same pool shares. */
export interface DbCore {
  readonly backend: 'postgres' | 'pglite'
  readonly adapter: PoolAdapter
  readonly root: Kysely<Database>
  readonly target: string
  readonly logger: Logger | undefined
  readonly shutdown: () => Promise<void>
  /** Run after the pool has closed (e.g. dropping a test database). */
  readonly afterClose: (() => Promise<void>)[]
  /** Set by the first close(); later calls wait for the same work. */
  closing?: Promise<void>
}

/** What a non-root Db is bound to. */
interface Binding {
  trx?: ControlledTransaction<Database, any[]>
  savepoints?: { next: number }
  guard?: EndedGuard
  pinned?: boolean
}

type Executor = Kysely<Database>

/**
 * The data layer: the pool, the migrator, transactions and the five repositories. Construct it
 * once with {@link Db.connect}, pass it into your services, and close it on shutdown.
 *
 * A Db bound to a transaction (the `tx` given to {@link Db.transaction}'s callback) has the same
 * API; everything done through it is part of that transaction.
 *
 * @example
 * ```ts
 * await using db = await Db.connect() // embedded PGlite; or { url: 'postgres://…' }
 * await db.migrate()
 * const agent = await db.agents.create({ name: 'helper', type: 'simple', model: 'gpt-4' })
 * ```
 */
export class Db implements AsyncDisposable {
  /** Typed Kysely for queries the repositories don't cover; bound to the transaction, if any. */
  readonly kysely: Executor
  #agents: AgentRepository | undefined
  #users: UserRepository | undefined
  #sessions: SessionRepository | undefined
  #messages: MessageRepository | undefined
  #memories: MemoryRepository | undefined
  readonly #core: DbCore
  readonly #trx: ControlledTransaction<Database, any[]> | undefined
  readonly #savepoints: { next: number } | undefined
  readonly #guard: EndedGuard | undefined
  /** Bound to one connection by withConnection(). */
  readonly #pinned: boolean
  readonly #savepointLock = new SavepointLock()

  /** Use {@link Db.connect}. */
  private constructor(core: DbCore, executor: Executor, binding: Binding = {}) {
    this.#core = core
    this.#trx = binding.trx
    this.#savepoints = binding.savepoints
    this.#guard = binding.guard
    this.#pinned = binding.pinned ?? false
    this.kysely = executor
  }

  // Repositories are made on first use: a transaction's Db only pays for the ones it touches.

  /** Agents: create-or-update by name, lookups, the atomic run counter. */
  get agents(): AgentRepository {
    return (this.#agents ??= new AgentRepository(this.kysely))
  }

  /** Users: create-or-update by email (case-insensitive), lookups. */
  get users(): UserRepository {
    return (this.#users ??= new UserRepository(this.kysely))
  }

  /** Sessions of users with agents, latest activity first. */
  get sessions(): SessionRepository {
    return (this.#sessions ??= new SessionRepository(this.kysely))
  }

  /** Messages of sessions, in the order they were written. */
  get messages(): MessageRepository {
    return (this.#messages ??= new MessageRepository(this.kysely))
  }

  /** Memories scoped to agents, users and sessions. */
  get memories(): MemoryRepository {
    return (this.#memories ??= new MemoryRepository(this.kysely))
  }

  /**
   * Opens a Db: PostgreSQL when `url` (or `DATABASE_URL`) is set, embedded PGlite otherwise.
   *
   * @example
   * ```ts
   * const db = await Db.connect({ url: process.env.DATABASE_URL, poolSize: 20 })
   * const local = await Db.connect({ dataDir: './data' }) // PGlite on disk
   * ```
   */
  static async connect(options: DbOptions = {}): Promise<Db> {
    const url = options.embedded || options.dataDir !== undefined ? undefined : (options.url ?? process.env.DATABASE_URL)
    const conn: ResolvedConnection = url ? serverPool(url, options) : await embeddedPool(options)
    const statementTimeout = options.statementTimeout ?? DEFAULTS.statementTimeout
    const adapter = new PoolAdapter(conn.pool, {
      preparedStatements: options.preparedStatements ?? true,
      singleConnection: conn.backend === 'pglite',
      // The server enforces statement_timeout; this client-side limit only fires when the server
      // itself stops answering (frozen, partitioned).
      clientTimeout: conn.backend === 'postgres' && statementTimeout > 0 ? statementTimeout + 5_000 : 0,
      logger: options.logger,
      secrets: conn.secrets,
      closeTimeout: conn.closeTimeout,
    })
    const logger = options.logger
    const root = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: adapter }),
      ...(logger ? { log: (event: LogEvent) => logQuery(logger, event) } : {}),
    })
    const core: DbCore = {
      backend: conn.backend,
      adapter,
      root,
      target: conn.target,
      logger,
      afterClose: [],
      shutdown: async () => {
        // End the pool rather than destroying Kysely: a destroyed Kysely answers later queries with
        // a bare "driver has already been destroyed", the closed adapter with DbClosedError.
        await adapter.end()
        await conn.close()
      },
    }
    const db = new Db(core, root)
    if (conn.backend === 'postgres') {
      // Fail fast with a clear error when the server can't be reached.
      try {
        await db.query('SELECT 1')
      } catch (err) {
        await core.shutdown().catch(() => undefined)
        throw err
      }
    }
    if (options.migrate) {
      try {
        await db.migrate()
      } catch (err) {
        await core.shutdown().catch(() => undefined)
        throw err
      }
    }
    return db
  }

  /** `postgres` for a server, `pglite` for the embedded database. */
  get backend(): 'postgres' | 'pglite' {
    return this.#core.backend
  }

  /** True when this Db is bound to a transaction (or a savepoint inside one). */
  get isTransaction(): boolean {
    return this.#trx !== undefined
  }

  /** Pool counters: connections open, idle, and callers waiting for one. */
  get poolStats(): { total: number; idle: number; waiting: number } {
    return this.#core.adapter.stats
  }

  /**
   * Applies every pending migration; returns the names applied.
   *
   * @example
   * ```ts
   * await db.migrate() // ['0001-initial-schema'] the first time, [] after
   * ```
   */
  async migrate(): Promise<string[]> {
    return unwrapMigrationResult(await createMigrator(this.kysely).migrateToLatest())
  }

  /**
   * Reverts the latest applied migration; returns its name (or nothing when none was applied).
   *
   * @example
   * ```ts
   * await db.migrateDown()
   * ```
   */
  async migrateDown(): Promise<string[]> {
    return unwrapMigrationResult(await createMigrator(this.kysely).migrateDown())
  }

  /**
   * Every migration the package ships, with when it was applied (null when pending).
   *
   * @example
   * ```ts
   * const pending = (await db.migrationStatus()).filter((m) => m.executedAt === null)
   * ```
   */
  async migrationStatus(): Promise<MigrationStatus[]> {
    try {
      return toStatus(await createMigrator(this.kysely).getMigrations())
    } catch (err) {
      throw translateError(err)
    }
  }

  /**
   * Runs `fn` in a transaction: commits when it returns, rolls back and rethrows when it throws.
   * `fn` gets a Db bound to the transaction. Called on a transaction's Db, it runs as a
   * SAVEPOINT: a throw rolls back to it and rethrows, and the outer transaction carries on.
   * With `retries`, a top-level transaction that fails with a serialization failure or a deadlock
   * is run again from the start.
   *
   * @example
   * ```ts
   * const session = await db.transaction(async (tx) => {
   *   const s = await tx.sessions.create({ userId, agentId })
   *   await tx.messages.create({ sessionId: s.id, role: 'user', textContent: 'hi' })
   *   return s
   * }, { isolationLevel: 'serializable', retries: 3 })
   * ```
   */
  transaction<T>(fn: (tx: Db) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return runTransaction(this.#transactionPort(), fn, options)
  }

  /**
   * Opens a transaction that you end yourself: the building block of test fixtures.
   *
   * @example
   * ```ts
   * const handle = await db.startTransaction()
   * await handle.db.agents.create({ name: 'a', type: 't', model: 'm' })
   * await handle.rollback() // nothing was written
   * ```
   */
  startTransaction(options: { isolationLevel?: IsolationLevel } = {}): Promise<TransactionHandle> {
    return startTransaction(this.#transactionPort(), options)
  }

  #transactionPort(): TransactionPort {
    const core = this.#core
    return {
      core,
      trx: this.#trx,
      savepoints: this.#savepoints,
      base: this.kysely,
      lock: this.#savepointLock,
      guard: this.#guard,
      bind: (executor, trx, savepoints, guard) => new Db(core, executor, { trx, savepoints, guard }),
    }
  }

  /**
   * Runs one parameterised SQL statement (`$1`, `$2`, …) and returns its rows. Inside a
   * transaction it runs in that transaction.
   *
   * @example
   * ```ts
   * const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM agents WHERE active = $1', [true])
   * ```
   */
  async query<R = Record<string, unknown>>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    if (typeof text !== 'string' || text.trim() === '') {
      throw new ValidationError([{ field: 'sql', messages: ['must be a non-empty SQL string'] }], 'db.query')
    }
    if (!Array.isArray(params)) {
      throw new ValidationError([{ field: 'params', messages: ['must be an array'] }], 'db.query')
    }
    this.#guard?.assertOpen()
    try {
      const result = await this.kysely.executeQuery<R>(CompiledQuery.raw(text, [...params]))
      return result.rows
    } catch (err) {
      throw translateError(err)
    }
  }

  /**
   * Runs one statement once per row of parameters, atomically (all rows or none), and returns
   * the total number of rows it affected. This is what the original `execute_batch` promised.
   *
   * @example
   * ```ts
   * await db.batch('INSERT INTO audit (user_id, message) VALUES ($1, $2)', [[1, 'a'], [1, 'b']])
   * ```
   */
  async batch(text: string, rows: readonly (readonly unknown[])[]): Promise<number> {
    if (typeof text !== 'string' || text.trim() === '') {
      throw new ValidationError([{ field: 'sql', messages: ['must be a non-empty SQL string'] }], 'db.batch')
    }
    if (!Array.isArray(rows) || rows.some((r) => !Array.isArray(r))) {
      throw new ValidationError([{ field: 'rows', messages: ['must be an array of parameter arrays'] }], 'db.batch')
    }
    if (rows.length === 0) return 0
    return this.transaction(async (tx) => {
      let affected = 0
      for (const params of rows) {
        const result = await tx.kysely.executeQuery(CompiledQuery.raw(text, [...params])).catch((err) => {
          throw translateError(err)
        })
        affected += Number(result.numAffectedRows ?? 0n)
      }
      return affected
    })
  }

  /**
   * Runs `fn` with a Db pinned to one connection (session settings, advisory locks, temp
   * tables). The connection goes back to the pool when `fn` settles.
   *
   * @example
   * ```ts
   * await db.withConnection(async (conn) => {
   *   await conn.query("SET LOCAL work_mem = '64MB'")
   * })
   * ```
   */
  withConnection<T>(fn: (conn: Db) => Promise<T>): Promise<T> {
    if (this.#trx !== undefined || this.#pinned) return fn(this)
    const core = this.#core
    return core.root.connection().execute(async (kysely) => {
      // The pinned Db stops working when `fn` settles: the connection is then back in the pool,
      // possibly inside someone else's transaction.
      const guard = new EndedGuard()
      const conn = new Db(core, kysely.withPlugin(guard), { guard, pinned: true })
      const single = core.backend === 'pglite'
      if (single) core.adapter.controlledOpen++
      try {
        return await Db.inTransactionScope(conn, () => fn(conn))
      } finally {
        guard.ended = 'released'
        if (single) core.adapter.controlledOpen--
      }
    })
  }

  /**
   * Closes the pool (and the embedded database). Only the root Db can be closed; queries after
   * close fail with {@link DbClosedError}.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => db.close())
   * ```
   */
  async close(): Promise<void> {
    if (this.#trx !== undefined || this.#pinned) {
      throw new DataLayerError('close() is called on the root Db, not on a transaction or pinned connection', {
        code: 'MISUSE',
      })
    }
    await (this.#core.closing ??= this.#core.shutdown().then(async () => {
      for (const fn of this.#core.afterClose.splice(0)) await fn()
    }))
  }

  /** @internal Registers work to run once the pool has closed (used by automagik-db/testing). */
  static onClose(db: Db, fn: () => Promise<void>): void {
    db.#core.afterClose.push(fn)
  }

  /**
   * @internal Runs `fn` as the body of a transaction of `db` (used by automagik-db/testing): on
   * embedded PGlite, a query on the root Db inside it then fails fast with `SELF_DEADLOCK` instead
   * of waiting for the only connection, which the transaction holds.
   */
  static inTransactionScope<T>(db: Db, fn: () => Promise<T>): Promise<T> {
    const core = db.#core
    return core.backend === 'pglite' ? transactionScope.run(core.adapter, fn) : fn()
  }

  /** `await using db = await Db.connect()` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** A safe description: backend and target, never the password. */
  toString(): string {
    return `Db(${this.#core.target}${this.#trx ? ', transaction' : ''})`
  }

  toJSON(): { backend: string; target: string; transaction: boolean } {
    return { backend: this.backend, target: this.#core.target, transaction: this.isTransaction }
  }

  [inspect.custom](): string {
    return this.toString()
  }
}
