// POSIX sh for the Jobs and init containers: every wait has a deadline and every step a
// bounded number of attempts, so nothing blocks a rollout forever.

const HELPERS = `
# wait_for SECONDS WHAT COMMAND...: run COMMAND until it succeeds or SECONDS have passed.
wait_for() {
  limit=$1; what=$2; shift 2
  deadline=$(( $(date +%s) + limit ))
  until "$@"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then echo "gave up after $limit seconds waiting for $what" >&2; return 1; fi
    echo "waiting for $what"; sleep 5
  done
  echo "ready: $what"
}
# retry ATTEMPTS COMMAND...: run COMMAND up to ATTEMPTS times, 10s apart.
retry() {
  attempts=$1; shift; n=1
  until "$@"; do
    if [ "$n" -ge "$attempts" ]; then echo "failed $attempts times: $*" >&2; return 1; fi
    n=$((n + 1)); sleep 10
  done
}`;

/** A script with the helpers above, failing on the first failed step or unset variable. */
export function script(...lines: string[]): string {
  return ["set -eu", HELPERS.trim(), ...lines].join("\n") + "\n";
}

/** Single-quotes a value for sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}
