/** A refusal to evaluate: what is wrong in the message, what to do in `hint`. */
export class EvaluationError extends Error {
  /** What the site API reports (dispatch-site-call.ts), never an `internal_error`. */
  readonly code = 'evaluation_refused';
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'EvaluationError';
  }
}
