import { readdir, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { DbOptions } from '../connect-options.js'
import { UsageError } from './args.js'

/** The database a command works on: a server (from `--url` or `DATABASE_URL`) or a PGlite folder. */
export type Target =
  | { readonly kind: 'server'; readonly url: string; readonly source: '--url' | 'DATABASE_URL' }
  | { readonly kind: 'data-dir'; readonly dataDir: string }

const PROTOCOLS: ReadonlySet<string> = new Set(['postgres:', 'postgresql:', 'socket:'])

/**
 * `--url`, else `--data-dir`, else `DATABASE_URL`; neither is a UsageError (the CLI never works
 * on a throwaway in-memory database), and so are both flags at once or a URL that is not a
 * PostgreSQL connection string (the message names where it came from, never the URL itself).
 *
 * @example
 * ```ts
 * resolveTarget({ 'data-dir': './data' }, process.env, process.cwd(), 'migrate')
 * ```
 */
export function resolveTarget(
  flags: Readonly<Record<string, string | true>>,
  env: NodeJS.ProcessEnv,
  cwd: string,
  command: string,
): Target {
  const url = flags.url
  const dataDir = flags['data-dir']
  if (typeof url === 'string' && typeof dataDir === 'string') {
    throw new UsageError('--url and --data-dir cannot be used together: pick one database', command)
  }
  if (typeof url === 'string') return server(url, '--url', command)
  if (typeof dataDir === 'string') return { kind: 'data-dir', dataDir: resolve(cwd, dataDir) }
  const fromEnv = env.DATABASE_URL
  if (fromEnv !== undefined && fromEnv !== '') return server(fromEnv, 'DATABASE_URL', command)
  throw new UsageError(
    'no database given: pass --url postgres://… or --data-dir DIR (embedded PGlite on disk), or set DATABASE_URL',
    command,
  )
}

/**
 * The options for `Db.connect` that reach `target`, with the app's migrations if any.
 *
 * @example
 * ```ts
 * const db = await Db.connect(connectOptions(target, '/app/migrations'))
 * ```
 */
export function connectOptions(target: Target, migrations: string | undefined): DbOptions {
  const where: DbOptions = target.kind === 'server' ? { url: target.url, poolSize: 1 } : { dataDir: target.dataDir, embedded: true }
  return migrations === undefined ? where : { ...where, migrations }
}

/**
 * The password in `target`'s URL (as written and decoded), for scrubbing from anything printed.
 *
 * @example
 * ```ts
 * targetSecrets({ kind: 'server', url: 'postgres://u:pw@h/db', source: '--url' }) // ['pw']
 * ```
 */
export function targetSecrets(target: Target | undefined): string[] {
  if (target?.kind !== 'server') return []
  try {
    const raw = new URL(target.url).password
    if (raw === '') return []
    let decoded = raw
    try {
      decoded = decodeURIComponent(raw)
    } catch {
      // keep the raw form only
    }
    return [...new Set([raw, decoded])]
  } catch {
    return []
  }
}

/**
 * The absolute path of the `--migrations` folder, checked to exist (a UsageError naming the flag if not).
 *
 * @example
 * ```ts
 * const folder = await migrationsFolder('./migrations', process.cwd(), 'migrate')
 * ```
 */
export async function migrationsFolder(dir: string | true | undefined, cwd: string, command: string): Promise<string | undefined> {
  if (typeof dir !== 'string') return undefined
  const path = resolve(cwd, dir)
  const info = await stat(path).catch(() => undefined)
  if (info === undefined) throw new UsageError(`--migrations: there is no folder ${path}`, command)
  if (!info.isDirectory()) throw new UsageError(`--migrations: ${path} is not a folder`, command)
  return path
}

/**
 * Refuses a `--data-dir` that is not an embedded database: for `status` and `down` it must be one
 * already (a mistyped path would otherwise become a new, empty database); `latest` may also
 * create one, in a folder that is missing or empty, but never among other files.
 *
 * @example
 * ```ts
 * await checkDataDir('/srv/app/data', true, 'migrate')
 * ```
 */
export async function checkDataDir(dataDir: string, mayCreate: boolean, command: string): Promise<void> {
  const info = await stat(dataDir).catch(() => undefined)
  if (info !== undefined && !info.isDirectory()) throw new UsageError(`--data-dir: ${dataDir} is not a folder`, command)
  const isDatabase = info !== undefined && (await stat(join(dataDir, 'PG_VERSION')).catch(() => undefined)) !== undefined
  if (isDatabase) return
  if (!mayCreate) {
    throw new UsageError(`--data-dir: ${dataDir} holds no embedded database (run "migrate latest" to create one there)`, command)
  }
  const entries = info === undefined ? [] : (await readdir(dataDir)).filter((e) => e !== 'automagik-db.lock')
  if (entries.length > 0) {
    throw new UsageError(`--data-dir: ${dataDir} is not empty and holds no embedded database: pick an empty or new folder`, command)
  }
}

function server(url: string, source: '--url' | 'DATABASE_URL', command: string): Target {
  let protocol: string
  try {
    protocol = new URL(url).protocol
  } catch {
    throw new UsageError(`${source} is not a valid URL (expected postgres://user:password@host:port/database)`, command)
  }
  if (!PROTOCOLS.has(protocol)) {
    throw new UsageError(`${source} must be a postgres:// or postgresql:// URL`, command)
  }
  return { kind: 'server', url, source }
}
