import { parseCommandLine, printable, UsageError, type FlagSpec } from './args.js'
import { CODEGEN_HELP, MAIN_HELP, MIGRATE_HELP } from './help.js'
import type { CliIo } from './io.js'
import { packageVersion } from './version.js'

const FLAGS: FlagSpec = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
}

type Command = (args: readonly string[], io: CliIo) => Promise<number>

// Loaded on use: help, version and usage errors never load the data layer.
const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  migrate: async () => (await import('./migrate-command.js')).migrateCommand,
  codegen: async () => (await import('./codegen-command.js')).codegenCommand,
}

const HELP: Readonly<Record<string, string>> = { migrate: MIGRATE_HELP, codegen: CODEGEN_HELP }

/**
 * Runs the `automagik-db` command line `argv` (without node and the script) and returns the
 * exit status: 0 done, 1 a database or migration failure, 2 a usage error. Nothing it prints
 * contains a password.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(['migrate', 'status', '--data-dir', './data'], processIo())
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io)
  } catch (err) {
    return await report(err, io)
  }
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv
  if (first === undefined) {
    io.err(MAIN_HELP)
    return 2
  }
  if (first === 'help') return help(rest[0], io)
  const command = COMMANDS[first]
  if (command !== undefined) return (await command())(rest, io)
  if (!first.startsWith('-')) throw new UsageError(`unknown command ${printable(first, 'command')} (the commands are migrate and codegen)`)
  const { flags, positionals } = parseCommandLine(argv, FLAGS)
  if (flags.help) return help(positionals[0], io)
  if (positionals.length > 0) throw new UsageError('the command comes first: automagik-db <command> [options]')
  if (flags.version) io.out(packageVersion())
  else io.err(MAIN_HELP)
  return flags.version ? 0 : 2
}

function help(topic: string | undefined, io: CliIo): number {
  if (topic === undefined) io.out(MAIN_HELP)
  else if (HELP[topic] !== undefined) io.out(HELP[topic])
  else throw new UsageError(`no help for ${printable(topic, 'topic')}: the commands are migrate and codegen`)
  return 0
}

async function report(err: unknown, io: CliIo): Promise<number> {
  if (err instanceof UsageError) {
    io.err(`automagik-db: ${err.message}\nRun "automagik-db ${err.command ? `${err.command} ` : ''}--help" for usage.`)
    return 2
  }
  const { DataLayerError } = await import('../errors.js')
  if (err instanceof DataLayerError) {
    io.err(`automagik-db: ${err.message} (${err.name} ${err.code})`)
    return 1
  }
  io.err(`automagik-db: ${err instanceof Error ? err.message || err.name : String(err)}`)
  return 1
}
