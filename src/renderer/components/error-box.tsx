import type { SiteApiError } from '../../shared/site-api';

/** A call's error with what went wrong and what to do about it. */
export function ErrorBox({
  error,
  title = 'That did not work',
}: {
  error: SiteApiError | null;
  title?: string;
}) {
  if (!error) return null;
  return (
    <div className="error-box" role="alert">
      <strong>{title}:</strong> {error.message}
      {error.hint && <p className="hint">What to do: {error.hint}</p>}
      <p className="error-code">Error code: {error.code}</p>
    </div>
  );
}
