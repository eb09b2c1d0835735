import { useCallback, useRef, useState } from 'react';
import type { SiteApiError } from '../../shared/site-api';
import { describeError } from '../api/call-error';

export type CallState<T> = { pending: boolean; error: SiteApiError | null; data: T | null };

/**
 * One async call's state for a screen: pending, its error (shown, never swallowed) and its data.
 * A newer run supersedes an older one still in flight.
 */
export function useCall<T>(): CallState<T> & {
  run(p: () => Promise<T>): Promise<T | undefined>;
  reset(): void;
  setData(d: T | null): void;
} {
  const [state, setState] = useState<CallState<T>>({ pending: false, error: null, data: null });
  const seq = useRef(0);
  const run = useCallback(async (p: () => Promise<T>) => {
    const my = ++seq.current;
    setState((s) => ({ ...s, pending: true, error: null }));
    try {
      const data = await p();
      if (my === seq.current) setState({ pending: false, error: null, data });
      return data;
    } catch (err) {
      if (my === seq.current)
        // The old result goes with the new error: never a stale answer under a fresh failure.
        setState({ pending: false, error: describeError(err), data: null });
      return undefined;
    }
  }, []);
  const reset = useCallback(() => {
    seq.current++;
    setState({ pending: false, error: null, data: null });
  }, []);
  const setData = useCallback((data: T | null) => setState((s) => ({ ...s, data })), []);
  return { ...state, run, reset, setData };
}
