/**
 * Whether the fault tests must have their external tools (PgBouncer, the PostgreSQL server
 * binaries for a private cluster). CI (`.ci/run`) sets `AMDB_REQUIRE_FAULT_TOOLS=1`: there a
 * missing tool is an error, not a reason to skip the tests the README's Reliability table cites.
 */
export function faultToolsRequired(): boolean {
  const value = process.env.AMDB_REQUIRE_FAULT_TOOLS
  return value !== undefined && value !== '' && value !== '0'
}

/**
 * Called when a tool is missing, before its tests are skipped: throws instead when
 * {@link faultToolsRequired}.
 */
export function toolMissing(what: string): void {
  if (faultToolsRequired()) {
    throw new Error(`${what}; AMDB_REQUIRE_FAULT_TOOLS is set, so the fault tests that need it fail instead of being skipped`)
  }
}
