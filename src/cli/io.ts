/** Where a command writes and what it reads from its process: injected so commands stay testable. */
export interface CliIo {
  /** Writes one block of normal output (a newline is added). */
  out(text: string): void
  /** Writes one block of error output (a newline is added). */
  err(text: string): void
  /** From now on, `secrets` are written as `****` wherever they would appear. */
  hide(secrets: readonly string[]): void
  readonly env: NodeJS.ProcessEnv
  readonly cwd: string
}

/**
 * The process's own streams, environment and working folder. Hidden secrets are replaced in
 * everything written: the last guard, as connection errors are already redacted by Db.connect.
 *
 * @example
 * ```ts
 * const io = processIo()
 * io.hide(['s3cret'])
 * io.out('done')
 * ```
 */
export function processIo(): CliIo {
  const secrets: string[] = []
  const scrub = (text: string) => secrets.reduce((t, s) => t.split(s).join('****'), text)
  return {
    out: (text) => void process.stdout.write(`${scrub(text)}\n`),
    err: (text) => void process.stderr.write(`${scrub(text)}\n`),
    hide: (more) => void secrets.push(...more.filter((s) => s !== '')),
    env: process.env,
    cwd: process.cwd(),
  }
}

/**
 * Rows as aligned columns, the first row being the header.
 *
 * @example
 * ```ts
 * table([['NAME', 'OWNER'], ['0001-initial-schema', 'automagik-db']])
 * ```
 */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n')
}
