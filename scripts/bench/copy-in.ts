/**
 * COPY … FROM STDIN with nothing but `pg` (pg-copy-streams is not installed): a minimal
 * Submittable handed to `client.query()`. pg routes CopyInResponse, CommandComplete,
 * ErrorResponse and ReadyForQuery to the active query, which is all COPY FROM needs.
 */
import type pg from 'pg'

interface Connection {
  query(text: string): void
  sendCopyFromChunk(chunk: Buffer): void
  endCopyFrom(): void
}

const CHUNK = 256 * 1024

class CopyFromStdin {
  callback: ((err: Error | null, rowCount?: number) => void) | undefined
  #rowCount = 0
  #done = false
  constructor(
    readonly text: string,
    readonly data: string,
  ) {}

  submit(connection: Connection): void {
    connection.query(this.text)
  }
  handleCopyInResponse(connection: Connection): void {
    const buf = Buffer.from(this.data, 'utf8')
    for (let at = 0; at < buf.length; at += CHUNK) connection.sendCopyFromChunk(buf.subarray(at, at + CHUNK))
    connection.endCopyFrom()
  }
  handleCommandComplete(msg: { text: string }): void {
    this.#rowCount = Number(msg.text.split(' ').pop())
  }
  handleReadyForQuery(): void {
    this.#finish(null)
  }
  handleError(err: Error): void {
    this.#finish(err)
  }
  #finish(err: Error | null): void {
    if (this.#done) return
    this.#done = true
    this.callback?.(err, this.#rowCount)
  }
  // Messages COPY FROM never gets; present so pg can dispatch blindly.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}

/** Escapes a value for COPY's text format. */
export function copyText(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '\\N'
  const s = String(value)
  return /[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!) : s
}

/** Runs `COPY … FROM STDIN` with `data` (text format) on `client`; resolves to the rows copied. */
export function copyFrom(client: pg.PoolClient | pg.Client, text: string, data: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const q = new CopyFromStdin(text, data)
    q.callback = (err, rows) => (err ? reject(err) : resolve(rows ?? 0))
    client.query(q as unknown as pg.QueryConfig)
  })
}
