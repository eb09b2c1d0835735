/**
 * An `AbortError` (DOMException, like Node's own APIs throw) for an aborted signal; the signal's
 * reason, when it is an Error, travels as the message and `cause`.
 */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const why = reason instanceof Error ? reason.message : 'the operation was aborted';
  const err = new DOMException(`Aborted: ${why}`, 'AbortError');
  if (reason !== undefined)
    Object.defineProperty(err, 'cause', { value: reason, enumerable: false });
  return err;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/**
 * Settles with `work`, or rejects with an AbortError as soon as `signal` aborts. Work that
 * cannot be cancelled (a native sharp decode) runs on and its result is dropped.
 */
export function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(abortError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
