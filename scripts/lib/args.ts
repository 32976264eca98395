// The command line of every entry script: node:util parseArgs, strict. `--help`/`-h` prints the
// script's usage on stdout and exits 0; a bad argument is one line on stderr naming it, exit 2.
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** A bad command line: the message names the argument; the script exits 2. */
export class UsageError extends Error {}

/** Every script's `-h, --help`. */
export const HELP = { help: { type: "boolean", short: "h" } } as const;

/** `--help` or `-h` before a literal `--` (what follows `--` belongs to another program). */
const wantsHelp = (argv: readonly string[]): boolean => {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
};

/** A parseArgs error as one line naming the argument. */
function describeParseError(e: unknown): string | undefined {
  if (e instanceof UsageError) return e.message;
  const { code, message } = e as { code?: string; message?: string };
  const first = (message ?? "").split("\n")[0]!;
  const quoted = /'([^']+)'/.exec(first)?.[1] ?? "";
  const flag = /--[\w-]+/.exec(quoted)?.[0] ?? quoted.split(/[ ,]/)[0]!;
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${flag}`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument '${quoted}'`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return /does not take an argument/.test(first) ? `${flag} takes no value` : `${flag} needs a value`;
  }
  return undefined;
}

/** The one line of a usage error, then exit 2. */
function usageError(name: string, message: string): never {
  console.error(`${name}: ${message} (usage: ${name} -- --help)`);
  process.exit(2);
}

/**
 * Parses `argv` with `parse` (a strict parseArgs), then `check`s the result (throwing UsageError).
 * `--help` prints `usage` and exits 0, even beside a bad argument; a bad argument exits 2 with one
 * line (`npm run x: unknown option --y (usage: npm run x -- --help)`).
 */
export function cliArgs<T extends { values: { help?: boolean } }>(name: string, usage: string, parse: (argv: string[]) => T, check: (parsed: T) => void = () => undefined, argv = process.argv.slice(2)): T {
  try {
    const parsed = parse(argv);
    if (parsed.values.help) showUsage(usage);
    check(parsed);
    return parsed;
  } catch (e) {
    if (wantsHelp(argv)) showUsage(usage);
    const line = describeParseError(e);
    if (line === undefined) throw e;
    usageError(name, line);
  }
}

function showUsage(usage: string): never {
  process.stdout.write(`${usage.trim()}\n`);
  process.exit(0);
}

/** Whether the module at `url` is the script node was started with (and not imported, e.g. by a test). */
export function isMain(url: string): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(url));
  } catch {
    return false;
  }
}
