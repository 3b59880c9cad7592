/** `automagik-db --help`. */
export const MAIN_HELP = `Usage: automagik-db <command> [options]

Commands:
  migrate latest|down|status   apply, revert or list the migrations (automagik-db's and your app's)
  codegen --out FILE           write the TypeScript Database interface of the migrated schema

Options:
  -h, --help      show help (also: automagik-db <command> --help)
  -v, --version   print the version of automagik-db

Run "automagik-db <command> --help" for the options of a command.`

/** `automagik-db migrate --help`. */
export const MIGRATE_HELP = `Usage: automagik-db migrate latest|down|status [--url URL | --data-dir DIR] [--migrations DIR]

Subcommands:
  latest   apply every pending migration: automagik-db's first, then your app's
  down     revert the latest applied migration, whoever owns it
  status   list every migration with its owner and when it was applied (or "pending")

Options:
  --url URL          the PostgreSQL server, postgres://user:password@host:port/database
  --data-dir DIR     an embedded PGlite database kept in this folder (created if missing)
  --migrations DIR   your app's migrations: one .js/.mjs module per migration exporting up (and down),
                     applied in file-name order
  -h, --help         show this help

The database is --url, else --data-dir, else the DATABASE_URL environment variable; with none
of them the command stops (it never migrates a throwaway in-memory database).

Exit status: 0 done, 1 the migration or the connection failed, 2 the command line is wrong.`

/** `automagik-db codegen --help`. */
export const CODEGEN_HELP = `Usage: automagik-db codegen --out FILE [--migrations DIR]

Migrates a throwaway in-memory PGlite database with automagik-db's migrations and yours, and
writes the TypeScript interface Database of every table (kysely-codegen), so that
Db.connect<Database>({ migrations }) types db.kysely with your tables too. No server is needed.

Options:
  --out FILE         the file to write (its folders are created)
  --migrations DIR   your app's migrations folder (as for "automagik-db migrate")
  -h, --help         show this help

Exit status: 0 written, 1 a migration failed, 2 the command line is wrong.`
