/**
 * `npm run migrate -- latest|down|status [--data-dir DIR | --url URL] [--migrations DIR]`:
 * the repository's shortcut for the shipped CLI, `automagik-db migrate …` (see src/cli).
 */
import { processIo } from '../src/cli/io.js'
import { runCli } from '../src/cli/run.js'

process.exitCode = await runCli(['migrate', ...process.argv.slice(2)], processIo())
