const said = new Set<string>();

/**
 * A setup note (no GPU provider, tfjs on CPU) is worth saying once per process, not on every
 * evaluation of a long-running app: the returned logger drops lines this process already gave.
 */
export function logOnce(log: ((line: string) => void) | undefined): (line: string) => void {
  return (line) => {
    if (!log || said.has(line)) return;
    said.add(line);
    log(line);
  };
}
