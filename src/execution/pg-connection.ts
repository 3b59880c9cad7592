import type { PoolClient, QueryConfig, QueryResult } from 'pg'
import {
  ConnectionError,
  DbClosedError,
  StaleStatementError,
  TimeoutError,
  TransactionAbortedError,
  type DataLayerError,
} from '../errors.js'
import { prepareParameters } from './parameters.js'
import { StatementCache } from './statement-cache.js'
import { CANCEL_GRACE_MS, sendCancel } from './cancel.js'

/** What a connection needs from the runner that owns it. */
export interface ConnectionHost {
  readonly preparedStatements: boolean
  readonly statementCapacity: number
  readonly clientTimeout: number
  readonly closeTimeout: number
  /** Embedded PGlite: the one session can't be replaced, so it is never destroyed. */
  readonly singleConnection: boolean
  readonly cancelTarget: { host: string; port: number } | undefined
  translate(err: unknown): DataLayerError
  redact<E>(err: E): E
  readonly logging: boolean
  logQuery(sql: string, params: readonly unknown[], started: number, error?: unknown): void
  warn(obj: object, message: string): void
  describe(err: unknown): Record<string, unknown>
  /** The error of a statement issued after closeTimeout passed. */
  closedForWork(): DataLayerError
}

/** PostgreSQL's transaction status after the last statement: idle, in a transaction, failed. */
export type TxStatus = 'I' | 'T' | 'E'

/** What pg exposes on a client beyond its typings (stable across pg 8). */
interface PgClientInternals {
  processID?: number | null
  secretKey?: number | null
  connection?: {
    stream?: { destroy(): void }
    parsedStatements?: Record<string, string>
    on(event: 'readyForQuery', listener: () => void): void
  }
}

/**
 * One pooled PostgreSQL connection and everything known about it: its named prepared
 * statements, its transaction status, the first error that aborted its transaction, whether it
 * is still fit for the pool. Every statement of a Db reaches the driver through
 * {@link PgConnection.query}.
 */
export class PgConnection {
  readonly client: PoolClient
  readonly #host: ConnectionHost
  readonly statements: StatementCache
  /** Set when the connection must not go back to the pool. */
  #broken = false
  /** The connection-level error that killed this connection while it was checked out. */
  #lostWith: Error | undefined
  /** Set when close() cancelled this connection's work after closeTimeout. */
  #cancelledByClose = false
  /** Set when the watchdog dropped the connection: the server did not answer in time. */
  #timedOut = false
  /** When the statement now running started (performance.now()), or 0 when idle. */
  #busySince = 0
  /** Statements on this connection the client watchdog leaves alone (migrations) while > 0. */
  #watchdogExempt = 0
  /** The statement error that aborted the current transaction; cleared when it is rolled back. */
  #abortCause: DataLayerError | undefined
  #inFlight = 0
  /** Counts the times this connection was lent: a binding of an earlier lease is stale. */
  #lease = 0
  #submitted = 0
  #ready = 0
  #waiters: { ticket: number; resolve: () => void }[] = []

  constructor(client: PoolClient, host: ConnectionHost) {
    this.client = client
    this.#host = host
    this.statements = new StatementCache(host.statementCapacity)
    const internals = client as unknown as PgClientInternals
    internals.connection?.on('readyForQuery', () => {
      this.#ready++
      this.#wake()
    })
    client.on('end', () => this.#wake(true))
    client.on('error', (err) => {
      // Lost while checked out (e.g. terminated while its transaction waits for the caller):
      // the next statement on it fails with this SQLSTATE.
      this.#lostWith ??= err
      this.#wake(true)
      host.warn({ err: host.describe(err) }, 'automagik-db: connection lost')
    })
  }

  /** True when the connection must not go back to the pool (lost, timed out, destroyed). */
  get broken(): boolean {
    return this.#broken
  }

  /**
   * How long the statement now running has waited for the server, in ms (0 when idle or
   * exempt): what the client watchdog compares with its limit.
   */
  waitingFor(now: number): number {
    return this.#busySince > 0 && this.#watchdogExempt === 0 ? now - this.#busySince : 0
  }

  /** The statement error that aborted the current transaction, if one did. */
  get abortCause(): DataLayerError | undefined {
    return this.#abortCause
  }

  /** Runs `fn` with the client watchdog off for this connection (migrations are never cut short). */
  async exemptFromWatchdog<T>(fn: () => Promise<T>): Promise<T> {
    this.#watchdogExempt++
    try {
      return await fn()
    } finally {
      this.#watchdogExempt--
    }
  }

  /** ROLLBACK of the transaction: afterwards nothing is aborted. */
  async rollback(): Promise<void> {
    await this.control('ROLLBACK')
    this.#abortCause = undefined
  }

  /** Back to a savepoint (and its release): the failure inside it is undone. */
  async rollbackTo(savepoint: string): Promise<void> {
    await this.control(`ROLLBACK TO SAVEPOINT ${savepoint}`)
    this.#abortCause = undefined
    await this.control(`RELEASE SAVEPOINT ${savepoint}`)
  }

  /** Which lending of this connection is current. */
  get lease(): number {
    return this.#lease
  }

  /** Fresh state for a new borrower. */
  lend(): this {
    this.#lease++
    this.#broken = false
    this.#lostWith = undefined
    this.#cancelledByClose = false
    this.#timedOut = false
    this.#busySince = 0
    this.#abortCause = undefined
    return this
  }

  /** `I` idle, `T` in a transaction, `E` in a failed transaction (as of the last answer). */
  get txStatus(): TxStatus {
    return (this.client.getTransactionStatus() ?? 'I') as TxStatus
  }

  /**
   * Runs one statement. With `named` (and parameters), it becomes a named prepared statement of
   * this connection. A statement the server no longer knows or that went stale is prepared again
   * and retried once when the connection is outside a transaction; inside one it fails with
   * StaleStatementError and the statements are forgotten, so the next transaction works.
   */
  async query(text: string, params: readonly unknown[], named: boolean): Promise<QueryResult> {
    const values = prepareParameters(params)
    const useName = named && values.length > 0 && this.#host.preparedStatements
    const idleBefore = this.#inFlight === 0 && this.txStatus === 'I'
    try {
      return await this.#send(text, values, useName)
    } catch (err) {
      if (!(err instanceof StaleStatementError) || !useName) throw err
      this.statements.forgetAll()
      if (!idleBefore) {
        throw new StaleStatementError(
          `${err.message}: a prepared statement of this connection went stale (a migration changed ` +
            'its result, or it was deallocated); this transaction fails, the next one prepares afresh',
          { code: err.code, cause: err },
        )
      }
      // Outside a transaction nothing ran: prepare afresh and run once more.
      await this.tidy()
      return this.#send(text, values, true)
    }
  }

  /**
   * COMMIT, or — when a statement of the transaction failed and its error was caught — ROLLBACK
   * and a TransactionAbortedError whose cause is that first failure. (PostgreSQL answers COMMIT
   * of an aborted transaction with ROLLBACK, not with an error.)
   */
  async commit(): Promise<void> {
    if (this.#abortCause !== undefined || this.txStatus === 'E') {
      const cause = this.#abortCause
      await this.rollback()
      throw abortedError('the transaction', cause)
    }
    const result = await this.control('COMMIT')
    if (result.command === 'ROLLBACK') throw abortedError('the transaction', this.#abortCause)
  }

  /** A control statement (BEGIN, SAVEPOINT, COMMIT, DISCARD ALL, …): unnamed, no parameters. */
  control(text: string): Promise<QueryResult> {
    return this.#send(text, [], false)
  }

  async #send(text: string, values: unknown[], useName: boolean): Promise<QueryResult> {
    const host = this.#host
    // Past closeTimeout nothing more runs here (a late COMMIT least of all): only the ROLLBACK.
    if (this.#cancelledByClose && text !== 'ROLLBACK') throw host.closedForWork()
    const config: QueryConfig = { text, values }
    if (useName) {
      const name = this.statements.nameFor(text)
      if (name !== undefined) config.name = name
    }
    // Lost before this statement: pg refuses to write it, so the server never sees it.
    const deadBefore = this.#lostWith !== undefined
    const watched = host.clientTimeout > 0 && this.#watchdogExempt === 0
    if (this.#inFlight++ === 0 && watched) this.#busySince = performance.now()
    const ticket = ++this.#submitted
    const started = host.logging ? performance.now() : 0
    try {
      const result = await this.client.query(config)
      if (this.#abortCause !== undefined && this.txStatus !== 'E') this.#abortCause = undefined
      if (started > 0) host.logQuery(text, values, started)
      return result
    } catch (err) {
      if (started > 0) host.logQuery(text, values, started, err)
      // The server answers an error with ReadyForQuery, which carries the transaction status:
      // wait for it, so the status read next is this statement's.
      const fromServer = isServerError(err)
      if (fromServer) await this.#readyFor(ticket)
      else this.#resync()
      const typed = this.#typed(err, deadBefore)
      if (config.name !== undefined && !fromServer) this.#forget(text)
      if (!fromServer || this.txStatus !== 'E') throw typed
      // In a failed transaction every later statement fails with 25P02: report the first failure.
      if (typed.code === '25P02' && this.#abortCause !== undefined) {
        throw new TransactionAbortedError(
          `this transaction is aborted: an earlier statement in it failed (${this.#abortCause.message}) and ` +
            'PostgreSQL ignores everything until it is rolled back (let the transaction callback throw)',
          this.#abortCause,
        )
      }
      this.#abortCause ??= typed
      throw typed
    } finally {
      this.#busySince = --this.#inFlight > 0 && watched ? performance.now() : 0
    }
  }

  /**
   * After an error raised in the client (not by the server), the driver may or may not have sent
   * a Sync: count as if it had not, so no later wait can outlast its ReadyForQuery.
   */
  #resync(): void {
    if (this.#submitted > this.#ready) this.#submitted = this.#ready
  }

  /** Drops one statement from this connection's record and from the driver's. */
  #forget(text: string): void {
    const name = this.statements.forget(text)
    if (name !== undefined) this.#unrecord([name])
  }

  /** The driver remembers each name it prepared (and would skip Parse for it): make it forget. */
  #unrecord(names: readonly string[]): void {
    const parsed = (this.client as unknown as PgClientInternals).connection?.parsedStatements
    if (parsed !== undefined) for (const name of names) delete parsed[name]
  }

  #readyFor(ticket: number): Promise<void> {
    if (this.#ready >= ticket || this.#broken || this.#lostWith !== undefined) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ ticket, resolve }))
  }

  #wake(all = false): void {
    if (this.#waiters.length === 0) return
    const waiting = this.#waiters
    this.#waiters = []
    for (const w of waiting) {
      if (all || w.ticket <= this.#ready) w.resolve()
      else this.#waiters.push(w)
    }
  }

  /**
   * Deallocates the statements evicted or forgotten since the last call (one round trip, only
   * when there are any), and drops them from the driver's own record. Run between statements
   * outside a failed transaction.
   */
  async tidy(): Promise<void> {
    const pending = this.statements.takeEvicted()
    if (pending === null) return
    this.#unrecord(pending.names)
    try {
      await this.control(pending.sql)
    } catch (err) {
      // A statement to drop was already gone (someone ran DEALLOCATE): start from nothing.
      if ((err as { code?: unknown }).code !== '26000') throw err
      await this.control('DEALLOCATE ALL')
      this.discarded()
    }
  }

  /** After `DISCARD ALL` succeeded: the server holds no statement of this connection any more. */
  discarded(): void {
    this.#unrecord(this.statements.cleared())
  }

  /** Called by the watchdog when the server has not answered within the client timeout. */
  timeOut(): void {
    this.#timedOut = true
    this.destroy()
  }

  #typed(err: unknown, deadBefore: boolean): DataLayerError {
    const host = this.#host
    if (this.#timedOut) {
      return new TimeoutError(`no answer from the server within ${host.clientTimeout} ms; connection dropped`, {
        code: 'CLIENT_TIMEOUT',
        cause: host.translate(err),
      })
    }
    let typed = host.translate(err)
    if (typed instanceof ConnectionError) {
      this.#broken = true
      const lost = this.#lostWith as (Error & { code?: unknown }) | undefined
      if (deadBefore && lost !== undefined) {
        const code = typeof lost.code === 'string' ? lost.code : typed.code
        typed = host.redact(
          new ConnectionError(`${lost.message} (the connection was lost before this statement was sent)`, {
            code,
            cause: err,
            statementSent: false,
          }),
        )
      }
    }
    if ((typed instanceof ConnectionError || typed instanceof TimeoutError) && this.#cancelledByClose) {
      typed = host.redact(
        new DbClosedError({
          message:
            'the Db was closed and this statement did not finish within closeTimeout ' +
            `(${host.closeTimeout} ms): it was cancelled and its connection closed (an open ` +
            'transaction is rolled back by the server)',
          cause: typed,
        }),
      )
    }
    return typed
  }

  /** Drops the socket: pending statements fail, the pool discards the client on release. */
  destroy(): void {
    this.#broken = true
    ;(this.client as unknown as PgClientInternals).connection?.stream?.destroy()
  }

  /**
   * Sends a cancel request for whatever statement runs on this connection (the server answers
   * it with 57014 and rolls the statement back), bounded to one second. PGlite: nothing to do.
   */
  async cancelForClose(): Promise<void> {
    this.#cancelledByClose = true
    const target = this.#host.cancelTarget
    const { processID, secretKey } = this.client as unknown as PgClientInternals
    if (target === undefined || typeof processID !== 'number' || typeof secretKey !== 'number') return
    await sendCancel(target, processID, secretKey, CANCEL_GRACE_MS)
  }
}

/**
 * An ErrorResponse of the server (pg's DatabaseError; PGlite's adapter has its own copy of the
 * class, so the shape is checked, not the class): it is always followed by ReadyForQuery.
 */
function isServerError(err: unknown): boolean {
  const e = err as { severity?: unknown; code?: unknown } | null
  return typeof e === 'object' && e !== null && typeof e.severity === 'string' && typeof e.code === 'string'
}

/** The error of a transaction (or savepoint) that could not go on because a statement failed. */
export function abortedError(what: string, cause: unknown): TransactionAbortedError {
  const first = cause instanceof Error ? `: ${cause.message}` : ''
  return new TransactionAbortedError(
    `${what} was rolled back: a statement inside it failed and the error was caught, which ` +
      `aborts it in PostgreSQL${first}`,
    cause,
  )
}
