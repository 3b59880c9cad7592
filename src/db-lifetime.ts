/** What the Db returned by {@link Db.connect} owns: closing it closes everything made from it. */
export class DbLifetime {
  readonly backend: 'postgres' | 'pglite'
  readonly target: string
  readonly #shutdown: () => Promise<void>
  readonly #afterClose: (() => Promise<void>)[] = []
  #closing: Promise<void> | undefined

  constructor(backend: 'postgres' | 'pglite', target: string, shutdown: () => Promise<void>) {
    this.backend = backend
    this.target = target
    this.#shutdown = shutdown
  }

  onClose(fn: () => Promise<void>): void {
    this.#afterClose.push(fn)
  }

  /** The first call closes; later calls wait for the same work. */
  close(): Promise<void> {
    return (this.#closing ??= this.#shutdown().then(async () => {
      for (const fn of this.#afterClose.splice(0)) await fn()
    }))
  }
}
