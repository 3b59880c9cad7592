import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)))
/** The CLI's TypeScript entry, run through tsx's loader (an absolute URL: it works from any cwd). */
const main = join(root, 'src/cli/main.ts')
const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href

/** Per-test timeout: each test starts Node processes (and PGlite), slow on a loaded machine. */
export const SLOW = 180_000

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs `automagik-db …args` as a child process (`node --import tsx src/cli/main.ts`) and returns
 * its exit code and output. DATABASE_URL is removed from the child's environment unless `env`
 * sets it.
 */
export function cli(args: readonly string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<CliResult> {
  const { DATABASE_URL: _drop, ...env } = process.env
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', tsx, main, ...args],
      {
        cwd: options.cwd ?? root,
        // tsx reads the repository's tsconfig (legacy decorators) from any working folder.
        env: { ...env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json'), ...options.env },
        timeout: SLOW,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null
        done({ code, stdout, stderr })
      },
    )
  })
}

/** A fresh temporary folder; removed by the returned function. */
export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `amdb-cli-${prefix}-`))
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

/** Two app migrations as .mjs modules: a `feedback` table (referencing our sessions), then a column. */
export async function writeAppMigrations(dir: string): Promise<void> {
  await writeFile(
    join(dir, '0001-feedback.mjs'),
    `export async function up(db) {
  await db.schema
    .createTable('feedback')
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('session_id', 'uuid', (c) => c.references('sessions.id').onDelete('cascade'))
    .addColumn('rating', 'integer', (c) => c.notNull())
    .execute()
}
export async function down(db) {
  await db.schema.dropTable('feedback').execute()
}
`,
  )
  await writeFile(
    join(dir, '0002-feedback-comment.mjs'),
    `export async function up(db) {
  await db.schema.alterTable('feedback').addColumn('comment', 'text').execute()
}
export async function down(db) {
  await db.schema.alterTable('feedback').dropColumn('comment').execute()
}
`,
  )
}

/** An app migration whose up() fails (a column of a table that does not exist). */
export async function writeFailingMigration(dir: string): Promise<void> {
  await writeFile(
    join(dir, '0003-broken.mjs'),
    `export async function up(db) {
  await db.schema.alterTable('no_such_table').addColumn('x', 'text').execute()
}
`,
  )
}

/** The status table's rows (after the header, before the blank line), split into cells. */
export function statusRows(stdout: string): string[][] {
  const lines = stdout.split('\n')
  const start = lines.findIndex((l) => l.startsWith('MIGRATION'))
  const end = lines.indexOf('', start)
  return lines.slice(start + 1, end).map((l) => l.trim().split(/\s{2,}/))
}
