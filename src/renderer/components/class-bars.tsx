import type { EvaluationResult } from '../../shared/site-api';

function Bar({ value, label }: { value: number; label: string }) {
  const pct = Math.max(0, Math.min(1, value)) * 100;
  return (
    <div className="bar-cell">
      <div className="bar-track" aria-hidden="true">
        <div className="bar-fill" style={{ width: `${pct}%` }} />
      </div>
      <span aria-label={`${label} ${pct.toFixed(1)}%`}>{value.toFixed(3)}</span>
    </div>
  );
}

/** Precision, recall and F1 per class as bars in a table (readable without the bars too). */
export function ClassBars({ perClass }: { perClass: EvaluationResult['perClass'] }) {
  return (
    <div className="table-scroll">
      <table className="class-bars">
        <caption className="visually-hidden">Per-class precision, recall and F1</caption>
        <thead>
          <tr>
            <th scope="col">class</th>
            <th scope="col">precision</th>
            <th scope="col">recall</th>
            <th scope="col">F1</th>
            <th scope="col">support</th>
          </tr>
        </thead>
        <tbody>
          {perClass.map((c) => (
            <tr key={c.name}>
              <th scope="row">{c.name}</th>
              <td>
                <Bar value={c.precision} label="precision" />
              </td>
              <td>
                <Bar value={c.recall} label="recall" />
              </td>
              <td>
                <Bar value={c.f1} label="F1" />
              </td>
              <td className="num">{c.support}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
