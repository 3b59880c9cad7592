import { inspect } from 'node:util'
import type { Kysely } from 'kysely'
import type { Migrator } from 'kysely/migration'
import type { Database } from './generated/database.js'
import { DEFAULTS, checkOptions, embeddedPool, serverPool, type DbOptions, type ResolvedConnection } from './connect-options.js'
import { runMigrator, toStatus, unwrapMigrationResult, type MigrationStatus } from './migrator.js'
import { DbLifetime } from './db-lifetime.js'
import { MisuseError, ValidationError } from './errors.js'
import { checkSql } from './validation.js'
import { QueryRunner } from './execution/query-runner.js'
import { Binding, Scope, ScopeRoot } from './execution/scope.js'
import { toKyselyResult } from './execution/kysely-glue.js'
import { openTransaction, runTransaction, type IsolationLevel, type TransactionOptions } from './execution/transaction.js'
import { repositories, type Repositories, type RepositoryName } from './repositories/registry.js'

const SCHEMA_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/** A transaction you end yourself (see {@link Db.startTransaction}). */
export interface TransactionHandle {
  /** A Db bound to this transaction. */
  readonly db: Db
  /** True until commit() or rollback() is called. */
  readonly isOpen: boolean
  /** Commits (or releases the savepoint). */
  commit(): Promise<void>
  /** Rolls back (or rolls back to the savepoint). */
  rollback(): Promise<void>
}

/**
 * The data layer: the pool, the migrator, transactions and the repositories. Construct it once
 * with {@link Db.connect}, pass it into your services, and close it on shutdown.
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
  readonly #scope: Scope
  readonly #lifetime: DbLifetime
  /** Only the Db made by connect() closes the pool. */
  readonly #owner: boolean
  readonly #repositories: Partial<Record<RepositoryName, unknown>> = {}

  static {
    // One getter per entry of the registry; each repository is made on first use, so a
    // transaction's Db only pays for the ones it touches.
    for (const name of Object.keys(repositories) as RepositoryName[]) {
      Object.defineProperty(Db.prototype, name, {
        configurable: true,
        enumerable: false,
        get(this: Db) {
          return (this.#repositories[name] ??= new repositories[name](this.#scope))
        },
      })
    }
  }

  /** Use {@link Db.connect}. */
  private constructor(scope: Scope, lifetime: DbLifetime, owner = false) {
    this.#scope = scope
    this.#lifetime = lifetime
    this.#owner = owner
  }

  /** Typed Kysely for queries the repositories don't cover; bound to the transaction, if any. */
  get kysely(): Kysely<Database> {
    return this.#scope.kysely
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
    checkOptions(options)
    const url = options.embedded || options.dataDir !== undefined ? undefined : (options.url ?? process.env.DATABASE_URL)
    const conn: ResolvedConnection = url ? serverPool(url, options) : await embeddedPool(options)
    const statementTimeout = options.statementTimeout ?? DEFAULTS.statementTimeout
    // The server enforces statement_timeout; the client-side limit only fires when the server
    // itself stops answering (frozen, partitioned).
    const defaultClientTimeout = conn.backend === 'postgres' && statementTimeout > 0 ? statementTimeout + 5_000 : 0
    const runner = new QueryRunner(conn.pool, {
      backend: conn.backend,
      preparedStatements: options.preparedStatements ?? true,
      statementCapacity: options.statementCacheSize ?? DEFAULTS.statementCacheSize,
      // PGlite runs in process: nothing can freeze without freezing us, and its one connection
      // could not be replaced.
      clientTimeout: conn.backend === 'pglite' ? 0 : (options.clientTimeout ?? defaultClientTimeout),
      closeTimeout: conn.closeTimeout,
      logger: options.logger,
      secrets: conn.secrets,
    })
    const shutdown = async () => {
      await runner.end()
      await conn.close()
    }
    const lifetime = new DbLifetime(conn.backend, conn.target, shutdown)
    const db = new Db(new Scope(new ScopeRoot(runner, () => lifetime.close()), undefined, ''), lifetime, true)
    try {
      // Fail fast with a clear error when the server can't be reached.
      if (conn.backend === 'postgres') await db.query('SELECT 1')
      if (options.migrate) await db.migrate()
    } catch (err) {
      await lifetime.close().catch(() => undefined)
      throw err
    }
    return db
  }

  /** `postgres` for a server, `pglite` for the embedded database. */
  get backend(): 'postgres' | 'pglite' {
    return this.#lifetime.backend
  }

  /** True when this Db is bound to a transaction (or a savepoint inside one). */
  get isTransaction(): boolean {
    return this.#scope.binding?.inTransaction ?? false
  }

  /** The schema this Db addresses (see {@link Db.withSchema}), or undefined for the default. */
  get schema(): string | undefined {
    return this.#scope.schema === '' ? undefined : this.#scope.schema
  }

  /** Pool counters: connections open, idle, and callers waiting for one. */
  get poolStats(): { total: number; idle: number; waiting: number } {
    return this.#scope.root.runner.stats
  }

  /**
   * A Db whose repositories and `kysely` address the tables of `schema` (schema per tenant):
   * same pool, same API, transactions included. `migrate()` on it creates the schema and its
   * tables. Raw SQL (`query`, `batch`) runs as written: qualify tenant tables yourself.
   *
   * @example
   * ```ts
   * const tenant = db.withSchema('tenant_b')
   * await tenant.migrate()
   * await tenant.transaction(async (tx) => tx.agents.create({ name: 'a', type: 't', model: 'm' }))
   * ```
   */
  withSchema(schema: string): Db {
    if (typeof schema !== 'string' || !SCHEMA_RE.test(schema)) {
      throw new ValidationError(
        [{ field: 'schema', messages: ['must be a plain identifier: letters, digits and _, at most 63, not starting with a digit'] }],
        'withSchema',
      )
    }
    return new Db(this.#scope.withSchema(schema), this.#lifetime)
  }

  /**
   * Applies every pending migration; returns the names applied. On a {@link Db.withSchema} Db,
   * in that schema (created if missing).
   *
   * @example
   * ```ts
   * await db.migrate() // ['0001-initial-schema', …] the first time, [] after
   * ```
   */
  migrate(): Promise<string[]> {
    return this.#migrate(async (m) => unwrapMigrationResult(await m.migrateToLatest()))
  }

  /**
   * Reverts the latest applied migration; returns its name (or nothing when none was applied).
   *
   * @example
   * ```ts
   * await db.migrateDown()
   * ```
   */
  migrateDown(): Promise<string[]> {
    return this.#migrate(async (m) => unwrapMigrationResult(await m.migrateDown()))
  }

  /**
   * Every migration the package ships, with when it was applied (null when pending).
   *
   * @example
   * ```ts
   * const pending = (await db.migrationStatus()).filter((m) => m.executedAt === null)
   * ```
   */
  migrationStatus(): Promise<MigrationStatus[]> {
    return this.#migrate(async (m) => toStatus(await m.getMigrations()))
  }

  #migrate<T>(op: (migrator: Migrator) => Promise<T>): Promise<T> {
    const scope = this.#scope
    return scope.binding !== undefined ? runMigrator(scope, op) : this.#pinned((pinned) => runMigrator(pinned, op))
  }

  /**
   * Runs `fn` in a transaction: commits when it returns, rolls back and rethrows when it throws.
   * `fn` gets a Db bound to the transaction. Called on a transaction's Db, it runs as a
   * SAVEPOINT: a throw rolls back to it and rethrows, and the outer transaction carries on. When
   * `fn` returns normally after a statement inside failed (you caught the error), PostgreSQL
   * has aborted the transaction: it is rolled back (a savepoint: back to the savepoint) and this
   * rejects with TransactionAbortedError, whose `cause` is that first failure.
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
    if (typeof fn !== 'function') {
      return Promise.reject(new ValidationError([{ field: 'fn', messages: ['must be a function'] }], 'transaction'))
    }
    return runTransaction(this.#scope, (scope) => fn(this.#bound(scope)), options)
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
  async startTransaction(options: { isolationLevel?: IsolationLevel } = {}): Promise<TransactionHandle> {
    const tx = await openTransaction(this.#scope, options, true)
    const db = this.#bound(tx.scope)
    return {
      db,
      get isOpen() {
        return tx.isOpen
      },
      commit: () => tx.commit(),
      rollback: () => tx.rollback(),
    }
  }

  #bound(scope: Scope): Db {
    return new Db(scope, this.#lifetime)
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
    checkSql(text, 'db.query')
    if (!Array.isArray(params)) {
      throw new ValidationError([{ field: 'params', messages: ['must be an array'] }], 'db.query')
    }
    const result = await this.#scope.execute(text, params, true)
    return (result.rows ?? []) as R[]
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
    checkSql(text, 'db.batch')
    if (!Array.isArray(rows) || rows.some((r) => !Array.isArray(r))) {
      throw new ValidationError([{ field: 'rows', messages: ['must be an array of parameter arrays'] }], 'db.batch')
    }
    if (rows.length === 0) return 0
    return runTransaction(
      this.#scope,
      async (scope) => {
        let affected = 0
        for (const params of rows) {
          affected += Number(toKyselyResult(await scope.execute(text, params, true)).numAffectedRows ?? 0n)
        }
        return affected
      },
      {},
    )
  }

  /**
   * Runs `fn` with a Db pinned to one connection (session settings, advisory locks, temp
   * tables). When `fn` settles the connection is reset (`DISCARD ALL`: settings, advisory
   * locks, temp tables and prepared statements; a transaction left open is rolled back) and goes
   * back to the pool, so nothing of it reaches the next caller.
   *
   * @example
   * ```ts
   * await db.withConnection(async (conn) => {
   *   await conn.query("SET statement_timeout = '5min'")
   *   await conn.query('SELECT pg_advisory_lock(42)')
   * })
   * ```
   */
  withConnection<T>(fn: (conn: Db) => Promise<T>): Promise<T> {
    if (this.#scope.binding !== undefined) return fn(this)
    return this.#pinned((scope) => scope.runInside(() => fn(this.#bound(scope))))
  }

  async #pinned<T>(fn: (scope: Scope) => Promise<T>): Promise<T> {
    const root = this.#scope.root
    const conn = await root.acquireConnection()
    const binding = new Binding('pinned', conn)
    try {
      return await fn(new Scope(root, binding, this.#scope.schema))
    } finally {
      binding.end('released')
      await root.runner.release(conn, 'reset')
    }
  }

  /**
   * Closes the pool (and the embedded database). Only the Db made by {@link Db.connect} can be
   * closed; queries after close fail with {@link DbClosedError}.
   *
   * @example
   * ```ts
   * process.on('SIGTERM', () => db.close())
   * ```
   */
  async close(): Promise<void> {
    if (!this.#owner) {
      throw new MisuseError('close() is called on the Db made by Db.connect(), not on a transaction, pinned connection or schema view')
    }
    await this.#lifetime.close()
  }

  /** @internal Registers work to run once the pool has closed (used by automagik-db/testing). */
  static onClose(db: Db, fn: () => Promise<void>): void {
    db.#lifetime.onClose(fn)
  }

  /**
   * @internal Runs `fn` as the body of `tx`'s transaction (used by automagik-db/testing): on
   * embedded PGlite, a query on the root Db inside it then fails fast with `SELF_DEADLOCK`
   * instead of waiting for the only connection, which the transaction holds.
   */
  static inTransactionScope<T>(tx: Db, fn: () => Promise<T>): Promise<T> {
    return tx.#scope.runInside(fn)
  }

  /** `await using db = await Db.connect()` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** A safe description: backend and target, never the password. */
  toString(): string {
    const schema = this.schema === undefined ? '' : `, schema ${this.schema}`
    return `Db(${this.#lifetime.target}${schema}${this.isTransaction ? ', transaction' : ''})`
  }

  toJSON(): { backend: string; target: string; transaction: boolean; schema?: string } {
    const json: { backend: string; target: string; transaction: boolean; schema?: string } = {
      backend: this.backend,
      target: this.#lifetime.target,
      transaction: this.isTransaction,
    }
    if (this.schema !== undefined) json.schema = this.schema
    return json
  }

  [inspect.custom](): string {
    return this.toString()
  }
}

// The registry's getters, typed: `db.agents` is an AgentRepository, and so on.
export interface Db extends Repositories {}
