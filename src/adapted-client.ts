import { connect as netConnect } from 'node:net'
import type { PoolClient } from 'pg'
import type { PostgresPoolClient } from 'kysely'
import { ConnectionError, DbClosedError, TimeoutError, type DataLayerError } from './errors.js'
import type { PoolAdapter } from './pool-adapter.js'

/** After closeTimeout: how long cancelled statements get to wind down before sockets are cut. */
export const CANCEL_GRACE_MS = 1000

/** What pg exposes on a client beyond its typings (stable across pg 8). */
interface PgClientInternals {
  processID?: number | null
  secretKey?: number | null
  connection?: { stream?: { destroy(): void } }
}

/** A checked-out client as Kysely sees it. */
export class AdaptedClient implements PostgresPoolClient {
  readonly #client: PoolClient
  readonly #adapter: PoolAdapter
  /** Set when the connection must not go back to the pool. */
  broken = false
  /** The connection-level error that killed this connection while it was checked out. */
  lostWith: Error | undefined
  /** Set when close() cancelled this connection's work after closeTimeout. */
  cancelledByClose = false
  /** When the statement now running started (performance.now()), or 0 when idle. */
  busySince = 0
  /** Set when the adapter's watchdog dropped the connection: the server did not answer in time. */
  timedOut = false
  #inFlight = 0

  constructor(client: PoolClient, adapter: PoolAdapter) {
    this.#client = client
    this.#adapter = adapter
  }

  // Kysely calls query(sql, params) for statements and query(cursor) for streams.
  query(text: any, values?: readonly unknown[]): any {
    if (typeof text !== 'string') return this.#client.query(text)
    const timeout = this.#adapter.clientTimeout
    // Lost before this statement: pg refuses to write it, so the server never sees it.
    const deadBefore = this.lostWith !== undefined
    if (timeout > 0 && this.#inFlight++ === 0) this.busySince = performance.now()
    const pending = this.#adapter.run(this.#client, text, values ?? [])
    const settled = timeout > 0 ? pending.finally(() => this.#settled()) : pending
    return settled.catch((err: unknown) => {
      throw this.#typed(err, deadBefore)
    })
  }

  /** One statement answered; pg runs a client's statements one after another, so the next starts now. */
  #settled(): void {
    this.busySince = --this.#inFlight > 0 ? performance.now() : 0
  }

  /**
   * Called by the adapter's watchdog when the server has not answered within the client timeout
   * (frozen or unreachable): drops the socket so the connection can never be reused while a
   * statement may still run on it; the statement fails with TimeoutError `CLIENT_TIMEOUT`.
   */
  timeOut(): void {
    this.timedOut = true
    this.destroy()
  }

  #typed(err: unknown, deadBefore: boolean): DataLayerError {
    if (this.timedOut) {
      const ms = this.#adapter.clientTimeout
      return new TimeoutError(`no answer from the server within ${ms} ms; connection dropped`, {
        code: 'CLIENT_TIMEOUT',
        cause: this.#adapter.translate(err),
      })
    }
    let typed = this.#adapter.translate(err)
    if (typed instanceof ConnectionError) {
      this.broken = true
      const lost = this.lostWith as (Error & { code?: unknown }) | undefined
      if (deadBefore && lost !== undefined) {
        // The connection had died before this statement (e.g. terminated by the server while the
        // transaction waited on its caller): report what killed it, with its SQLSTATE, and that
        // this statement never reached the server.
        const code = typeof lost.code === 'string' ? lost.code : typed.code
        typed = this.#adapter.redact(
          new ConnectionError(`${lost.message} (the connection was lost before this statement was sent)`, {
            code,
            cause: err,
            statementSent: false,
          }),
        )
      }
    }
    if ((typed instanceof ConnectionError || typed instanceof TimeoutError) && this.cancelledByClose) {
      typed = this.#adapter.redact(
        new DbClosedError({
          message:
            'the Db was closed and this statement did not finish within closeTimeout ' +
            `(${this.#adapter.closeTimeout} ms): it was cancelled and its connection closed (an open ` +
            'transaction is rolled back by the server)',
          cause: typed,
        }),
      )
    }
    return typed
  }

  /** Drops the socket: pending queries fail, the pool discards the client on release. */
  destroy(): void {
    this.broken = true
    ;(this.#client as unknown as PgClientInternals).connection?.stream?.destroy()
  }

  /**
   * Sends a cancel request for whatever statement runs on this connection (the server answers
   * it with 57014 and rolls the statement back), bounded to one second. PGlite: nothing to do.
   */
  async cancelForClose(): Promise<void> {
    this.cancelledByClose = true
    const target = this.#adapter.cancelTarget
    const { processID, secretKey } = this.#client as unknown as PgClientInternals
    if (target === undefined || typeof processID !== 'number' || typeof secretKey !== 'number') return
    await sendCancel(target, processID, secretKey, CANCEL_GRACE_MS)
  }

  release(destroy?: boolean): void {
    this.#adapter.returned(this)
    const discard = (destroy || this.broken) && !this.#adapter.singleConnection
    this.#client.release(discard ? true : undefined)
  }
}

/** The protocol's CancelRequest on a new socket; resolves when sent, failed, or after `ms`. */
function sendCancel(target: { host: string; port: number }, pid: number, key: number, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const path = target.host.startsWith('/') ? `${target.host}/.s.PGSQL.${target.port}` : undefined
    const socket = path ? netConnect(path) : netConnect(target.port, target.host)
    const done = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve()
    }
    const timer = setTimeout(done, ms)
    socket.once('error', done)
    socket.once('connect', () => {
      const packet = Buffer.alloc(16)
      packet.writeInt32BE(16, 0)
      packet.writeInt32BE(80877102, 4)
      packet.writeInt32BE(pid, 8)
      packet.writeInt32BE(key, 12)
      socket.end(packet, done)
    })
  })
}

/** True when `promise` settles within `ms`. */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  return Promise.race([promise.then(() => true), timeout]).finally(() => clearTimeout(timer))
}
