import type {
  ControlledTransaction,
  IsolationLevel,
  Kysely,
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely'
import type { Database } from './generated/database.js'
import type { Db, DbCore } from './db.js'
import { ConnectionError, DataLayerError, TransactionClosedError, ValidationError } from './errors.js'
import { translateError } from './pg-errors.js'
import { transactionScope } from './pool-adapter.js'

const ISOLATION_LEVELS: readonly IsolationLevel[] = [
  'read uncommitted',
  'read committed',
  'repeatable read',
  'serializable',
  'snapshot',
]
const MAX_RETRIES = 10

/** Options of {@link Db.transaction}. */
export interface TransactionOptions {
  /** PostgreSQL isolation level; default `read committed`. Ignored for a nested savepoint. */
  isolationLevel?: IsolationLevel
  /**
   * Run the whole function again, up to this many times, when the transaction fails with a
   * serialization failure (40001) or a deadlock (40P01). Default 0; at most 10. Only a top-level
   * transaction retries; unique violations, timeouts and your own errors never do.
   */
  retries?: number
  /** First backoff in ms before a retry; doubles each time with jitter, capped at 1 s. Default 10. */
  retryDelay?: number
}

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

/** What a Db lends the transaction functions: its core and, when nested, its transaction. */
export interface TransactionPort {
  core: DbCore
  trx: ControlledTransaction<Database, any[]> | undefined
  savepoints: { next: number } | undefined
  /** The guard of the transaction (or savepoint) `trx` belongs to; undefined on the root Db. */
  guard: EndedGuard | undefined
  bind(
    executor: Kysely<Database>,
    trx: ControlledTransaction<Database, any[]>,
    savepoints: { next: number },
    guard: EndedGuard,
  ): Db
}

/**
 * Refuses to compile a query for a transaction (or savepoint) that has ended, with an error that
 * says so. Raw statements (`db.query`, `db.batch`) and nested transactions call
 * {@link EndedGuard.assertOpen} themselves: a savepoint's ControlledTransaction shares the outer
 * transaction's state, so Kysely alone would run them in the outer transaction.
 */
export class EndedGuard implements KyselyPlugin {
  ended: 'committed' | 'rolled back' | undefined
  /** Throws {@link TransactionClosedError} once the transaction has ended. */
  assertOpen(): void {
    if (this.ended !== undefined) throw closedError(this.ended)
  }
  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    this.assertOpen()
    return node
  }
  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result
  }
}

const closedError = (state: string): TransactionClosedError =>
  new TransactionClosedError(
    `this transaction is already ${state}: a query was issued after it ended (a missing await, or a ` +
      `Db from a finished test kept around). Use the Db of a transaction that is still open.`,
  )

/** Opens a transaction, or a SAVEPOINT when `port` is already inside one. */
export async function startTransaction(
  port: TransactionPort,
  options: { isolationLevel?: IsolationLevel } = {},
): Promise<TransactionHandle> {
  port.guard?.assertOpen()
  const guard = new EndedGuard()
  const { core } = port
  let trx: ControlledTransaction<Database, any[]>
  let end: (commit: boolean) => Promise<void>
  let savepoints: { next: number }

  if (port.trx !== undefined && port.savepoints !== undefined) {
    savepoints = port.savepoints
    const name = `amdb_sp_${++savepoints.next}`
    const outer = port.trx
    trx = await outer.savepoint(name).execute().catch(rethrowTyped)
    end = async (commit) => {
      if (!commit) await trx.rollbackToSavepoint(name).execute()
      await trx.releaseSavepoint(name).execute()
    }
  } else {
    if (options.isolationLevel !== undefined && !ISOLATION_LEVELS.includes(options.isolationLevel)) {
      throw new ValidationError([{ field: 'isolationLevel', messages: [`must be one of ${ISOLATION_LEVELS.join(', ')}`] }])
    }
    savepoints = { next: 0 }
    let builder = core.root.startTransaction()
    if (options.isolationLevel !== undefined) builder = builder.setIsolationLevel(options.isolationLevel)
    trx = await builder.execute().catch(rethrowTyped)
    const single = core.backend === 'pglite'
    if (single) core.adapter.controlledOpen++
    end = async (commit) => {
      try {
        if (!commit) {
          await trx.rollback().execute()
          return
        }
        try {
          await trx.commit().execute()
        } catch (err) {
          // Kysely keeps the connection when COMMIT fails: roll back to hand it back (a dead
          // connection is discarded by the pool adapter).
          await trx.rollback().execute().catch(() => undefined)
          const typed = translateError(err)
          if (typed instanceof ConnectionError && !typed.statementSent) {
            throw new ConnectionError('the connection was lost before COMMIT was sent: rolled back, nothing committed', {
              cause: typed,
              code: typed.code,
              statementSent: false,
            })
          }
          if (typed instanceof ConnectionError) {
            throw new ConnectionError(
              'the connection was lost during COMMIT: the outcome is unknown (the transaction may or ' +
                'may not have been committed); check before retrying',
              { cause: typed, code: typed.code, outcomeUnknown: true },
            )
          }
          throw typed
        }
      } finally {
        if (single) core.adapter.controlledOpen--
      }
    }
  }

  const executor = trx.withPlugin(guard)
  const db = port.bind(executor, trx, savepoints, guard)
  let open = true
  const finish = async (commit: boolean): Promise<void> => {
    if (!open) throw closedError(guard.ended ?? 'ended')
    open = false
    guard.ended = commit ? 'committed' : 'rolled back'
    try {
      await end(commit)
    } catch (err) {
      throw translateError(err)
    }
  }
  return {
    db,
    get isOpen() {
      return open
    },
    commit: () => finish(true),
    rollback: () => finish(false),
  }
}

/** Runs `fn` in a transaction (or savepoint), with optional retries on 40001 / 40P01. */
export async function runTransaction<T>(
  port: TransactionPort,
  fn: (tx: Db) => Promise<T>,
  options: TransactionOptions,
): Promise<T> {
  if (typeof fn !== 'function') {
    throw new ValidationError([{ field: 'fn', messages: ['must be a function'] }], 'transaction')
  }
  const retries = options.retries ?? 0
  if (!Number.isInteger(retries) || retries < 0 || retries > MAX_RETRIES) {
    throw new ValidationError([{ field: 'retries', messages: [`must be an integer from 0 to ${MAX_RETRIES}`] }], 'transaction')
  }
  const allowed = port.trx === undefined ? retries : 0
  const scoped = port.core.backend === 'pglite'
  for (let attempt = 0; ; attempt++) {
    const handle = await startTransaction(port, options)
    let result: T
    try {
      result = scoped ? await transactionScope.run(port.core.adapter, () => fn(handle.db)) : await fn(handle.db)
    } catch (err) {
      await handle.rollback().catch((rollbackErr: unknown) => {
        // Keep the error that caused the rollback; the rollback failure is only logged.
        port.core.logger?.warn({ err: rollbackErr }, 'automagik-db: rollback failed')
      })
      if (attempt < allowed && isRetryable(err)) {
        await backoff(attempt, options.retryDelay)
        continue
      }
      throw err
    }
    try {
      await handle.commit()
    } catch (err) {
      if (attempt < allowed && isRetryable(err)) {
        await backoff(attempt, options.retryDelay)
        continue
      }
      throw err
    }
    return result
  }
}

const isRetryable = (err: unknown): boolean => err instanceof DataLayerError && err.retryable

const backoff = (attempt: number, base = 10): Promise<void> => {
  const ms = Math.min(1000, base * 2 ** attempt) * (0.5 + Math.random() / 2)
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function rethrowTyped(err: unknown): never {
  throw translateError(err)
}
