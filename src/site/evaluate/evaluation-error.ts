/** A refusal to evaluate: what is wrong in the message, what to do in `hint`. */
export class EvaluationError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'EvaluationError';
  }
}
