import type { Ledger } from '../ledger/ledger';
import { EvaluationRecord } from './evaluation-record';
import { compareMarkdown } from './evaluation-report';
import { EvaluationError } from './evaluation-error';

/** A stored evaluation, checked against the record schema (the column is plain JSON). */
export function readEvaluation(ledger: Ledger, evaluationId: number): EvaluationRecord & { datasetId: number } {
  const row = ledger.evaluations.get(evaluationId);
  if (!row) throw new EvaluationError(`Evaluation ${evaluationId} is not in the ledger.`, 'Run `fgl site evaluate` first; its output names the evaluation id.');
  const parsed = EvaluationRecord.safeParse(row.metrics);
  if (!parsed.success)
    throw new EvaluationError(`Evaluation ${evaluationId} was recorded in another format and cannot be compared.`, 'Evaluate the model again to record it in the current format.');
  return { ...parsed.data, datasetId: row.datasetId };
}

/** Two evaluations side by side (Markdown), A first; says so when they are not on the same data. */
export function compareEvaluations(ledger: Ledger, evaluationIdA: number, evaluationIdB: number): string {
  const a = readEvaluation(ledger, evaluationIdA);
  const b = readEvaluation(ledger, evaluationIdB);
  const notes: string[] = [];
  if (a.datasetId !== b.datasetId)
    notes.push(`> **Different datasets** (\`${a.info.dataset}\` vs \`${b.info.dataset}\`): the change mixes model and data differences.`);
  else if (a.dataset.evaluated !== b.dataset.evaluated)
    notes.push(`> The dataset changed between the two evaluations (${a.dataset.evaluated} vs ${b.dataset.evaluated} images evaluated).`);
  if (a.info.studyId !== b.info.studyId) notes.push(`> Models of different studies (${a.info.studyId} vs ${b.info.studyId}).`);
  if (a.info.tinyModels || b.info.tinyModels) notes.push('> **Tiny test models were used: these numbers prove the plumbing, not accuracy.**');
  const md = compareMarkdown(a, b);
  const [title, ...rest] = md.split('\n');
  return [title!, '', `Evaluations ${evaluationIdA} (${a.info.createdAt}) and ${evaluationIdB} (${b.info.createdAt}).`, ...(notes.length ? ['', ...notes] : []), ...rest].join('\n');
}
