import type { DataLayerError, Db } from '../index.js'
import { parseCommandLine, printable, UsageError, type FlagSpec } from './args.js'
import { MIGRATE_HELP } from './help.js'
import { table, type CliIo } from './io.js'
import { checkDataDir, connectOptions, migrationsFolder, resolveTarget, targetSecrets, type Target } from './target.js'

const FLAGS: FlagSpec = {
  url: { type: 'string' },
  'data-dir': { type: 'string' },
  migrations: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
}

const ACTIONS: readonly string[] = ['latest', 'down', 'status']

/**
 * `automagik-db migrate latest|down|status [--url URL | --data-dir DIR] [--migrations DIR]`:
 * returns the exit status (usage errors are thrown as {@link UsageError}, database errors as
 * the package's typed errors).
 *
 * @example
 * ```ts
 * process.exitCode = await migrateCommand(['latest', '--data-dir', './data'], processIo())
 * ```
 */
export async function migrateCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { flags, positionals } = parseCommandLine(args, FLAGS, 'migrate')
  if (flags.help) {
    io.out(MIGRATE_HELP)
    return 0
  }
  const [action, ...extra] = positionals
  if (action === undefined) throw new UsageError('missing subcommand: latest, down or status', 'migrate')
  if (!ACTIONS.includes(action)) {
    throw new UsageError(`unknown subcommand ${printable(action, 'subcommand')} for migrate (expected latest, down or status)`, 'migrate')
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument ${printable(extra[0]!, 'argument')} after "${action}"`, 'migrate')
  const target = resolveTarget(flags, io.env, io.cwd, 'migrate')
  io.hide(targetSecrets(target))
  const migrations = await migrationsFolder(flags.migrations, io.cwd, 'migrate')
  if (target.kind === 'data-dir') await checkDataDir(target.dataDir, action === 'latest', 'migrate')
  const db = await connect(target, migrations)
  try {
    if (action === 'latest') {
      const applied = await db.migrate()
      io.out(applied.length === 0 ? 'Nothing to apply: every migration is applied.' : applied.map((n) => `applied  ${n}`).join('\n'))
      if (applied.length > 0) io.out(`${count(applied.length)} applied.`)
    } else if (action === 'down') {
      const reverted = await db.migrateDown()
      io.out(reverted.length === 0 ? 'Nothing to revert: no migration is applied.' : reverted.map((n) => `reverted  ${n}`).join('\n'))
    } else {
      io.out(await statusTable(db))
    }
    return 0
  } finally {
    await db.close()
  }
}

/** Connects to `target`; an invalid connection string becomes a UsageError naming its source. */
async function connect(target: Target, migrations: string | undefined): Promise<Db> {
  // Loaded here: usage errors are reported without loading the data layer.
  const { Db } = await import('../index.js')
  try {
    return await Db.connect(connectOptions(target, migrations))
  } catch (err) {
    if (target.kind === 'server' && (err as DataLayerError)?.code === 'INVALID_URL') {
      throw new UsageError(`${target.source} is not a valid PostgreSQL connection string`, 'migrate')
    }
    throw err
  }
}

/** The status table: each migration, its owner, and when it was applied (or `pending`). */
async function statusTable(db: Db): Promise<string> {
  const status = await db.migrationStatus()
  const rows = status.map((m) => [m.name, m.owner, m.executedAt ? m.executedAt.toISOString() : 'pending'])
  const pending = status.filter((m) => m.executedAt === null).length
  const summary = `${count(status.length - pending)} applied, ${pending} pending.`
  return `${table([['MIGRATION', 'OWNER', 'APPLIED AT'], ...rows])}\n\n${summary}`
}

const count = (n: number): string => `${n} migration${n === 1 ? '' : 's'}`
