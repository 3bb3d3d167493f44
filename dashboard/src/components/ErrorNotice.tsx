// A failed request, shown with the server's message and code.
import type { ApiFailure } from '../api/errors';

export function ErrorNotice({ failure, what }: { failure: ApiFailure; what: string }) {
  return (
    <div className="error-notice" role="alert">
      <strong>{what}:</strong> {failure.message} <code>{failure.code}</code>
    </div>
  );
}
