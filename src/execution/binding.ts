import { TransactionClosedError } from '../errors.js'
import type { PgConnection } from './pg-connection.js'
import type { TransactionSpan } from '../telemetry/spans.js'

/** What a scope bound to one connection is: a pinned connection, a transaction or a savepoint. */
export type BindingKind = 'pinned' | 'transaction' | 'savepoint'

/**
 * The life of one connection-bound scope: which connection (and which lease of it), what it runs
 * inside, whether it has ended, and the savepoint open inside it. Every statement of the scope
 * checks {@link Binding.assertOpen} first, so a Db or handle kept past its transaction (a missing
 * await, a finished test) fails instead of running on whoever holds the connection now.
 */
export class Binding {
  readonly kind: BindingKind
  readonly conn: PgConnection
  readonly parent: Binding | undefined
  /** The lease of `conn` this binding belongs to: once the connection is lent again, it is stale. */
  readonly #lease: number
  #ended: 'committed' | 'rolled back' | 'released' | undefined
  #savepoints = 0
  /** The end of the savepoint opened last from this binding: the next one waits for it. */
  #tail: Promise<void> = Promise.resolve()
  /** The savepoint open inside this binding, if any (siblings take turns, so at most one). */
  #child: Binding | undefined
  /** Lets the next sibling savepoint in; called once, when this savepoint ends. */
  #letNextIn: (() => void) | undefined
  #signalEnd: (() => void) | undefined
  #endedSignal: Promise<void> | undefined
  /** Set for a savepoint opened by startTransaction(): only its opener ends it. */
  #manual = false
  /** @internal The telemetry span of this transaction or savepoint (when traced): its statements' parent. */
  span: TransactionSpan | undefined

  constructor(kind: BindingKind, conn: PgConnection, parent?: Binding) {
    this.kind = kind
    this.conn = conn
    this.parent = parent
    this.#lease = conn.lease
  }

  /** True until this binding, or one around it, has ended (or its connection was lent again). */
  get open(): boolean {
    return this.#ended === undefined && this.conn.lease === this.#lease && (this.parent?.open ?? true)
  }

  /** True inside a transaction (or a savepoint of one). */
  get inTransaction(): boolean {
    return this.kind !== 'pinned'
  }

  /** True when a savepoint opened by startTransaction() is open inside this binding. */
  get hasOpenManualSavepoint(): boolean {
    const child = this.#child
    return child !== undefined && child.#manual
  }

  /** True when a savepoint is open inside this binding. */
  get hasOpenSavepoint(): boolean {
    return this.#child !== undefined
  }

  /**
   * Marks the end of this binding; statements through it fail from now on. A savepoint still
   * open inside it ends with it (its callback outlived the transaction: a missing await).
   */
  end(how: 'committed' | 'rolled back' | 'released'): void {
    if (this.#ended !== undefined) return
    this.#ended = how
    const child = this.#child
    if (child !== undefined) {
      child.end('rolled back')
      child.finished()
    }
  }

  /**
   * Called once the statement that ended this binding (COMMIT, RELEASE, …) has run: the next
   * sibling savepoint may open, and statements of the parent that waited for it go on.
   */
  finished(): void {
    const parent = this.parent
    if (parent !== undefined && parent.#child === this) parent.#child = undefined
    const letNextIn = this.#letNextIn
    this.#letNextIn = undefined
    letNextIn?.()
    this.#signalEnd?.()
  }

  /** Throws TransactionClosedError once this binding, or one around it, has ended. */
  assertOpen(): void {
    if (this.#ended !== undefined) throw closedError(this.#ended)
    if (this.conn.lease !== this.#lease) throw closedError('released')
    this.parent?.assertOpen()
  }

  /**
   * When a savepoint is open inside this binding and `current` (the binding whose callback the
   * caller runs in) is not inside it, a statement on this binding must wait for the savepoint to
   * end — otherwise it would run inside the savepoint and share its fate. Undefined: run now.
   */
  savepointToWaitFor(current: Binding | undefined): Promise<void> | undefined {
    const child = this.#child
    if (child === undefined || (current !== undefined && child.encloses(current))) return undefined
    return (child.#endedSignal ??= new Promise((r) => (child.#signalEnd = r)))
  }

  /** A name for the next savepoint of this transaction (unique on the connection). */
  nextSavepointName(): string {
    const top = this.#top()
    return `amdb_sp_${++top.#savepoints}`
  }

  #top(): Binding {
    let b: Binding = this
    while (b.parent !== undefined && b.kind === 'savepoint') b = b.parent
    return b
  }

  /**
   * Waits until no other savepoint opened from this binding is open, and returns the function
   * that lets the next one in: savepoints of one connection must not interleave.
   */
  async enterSavepoint(): Promise<() => void> {
    let release!: () => void
    const done = new Promise<void>((resolve) => (release = resolve))
    const ready = this.#tail
    this.#tail = this.#tail.then(() => done)
    await ready
    return release
  }

  /** Registers `child` as the savepoint now open inside this binding; `letNextIn` frees the turn. */
  openSavepoint(child: Binding, letNextIn: () => void, manual: boolean): void {
    this.#child = child
    child.#letNextIn = letNextIn
    child.#manual = manual
  }

  /** True when `inner` is this binding or runs inside it. */
  encloses(inner: Binding): boolean {
    for (let b: Binding | undefined = inner; b !== undefined; b = b.parent) if (b === this) return true
    return false
  }
}

const closedError = (state: string): TransactionClosedError =>
  new TransactionClosedError(
    state === 'released'
      ? 'this Db was pinned to a connection by withConnection(), and its callback has ended: the ' +
          'connection went back to the pool. Use the Db only inside the callback.'
      : `this transaction is already ${state}: a query was issued after it ended (a missing await, ` +
          'or a Db from a finished test kept around). Use the Db of a transaction that is still open.',
  )
