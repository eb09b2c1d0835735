import { heatColour } from '../format/plot-scale';

/** Confusion matrix as a table (true class per row), shaded by the share of the row. */
export function ConfusionMatrix({
  classes,
  confusion,
}: {
  classes: readonly string[];
  confusion: readonly (readonly number[])[];
}) {
  return (
    <div className="table-scroll">
      <table className="confusion">
        <caption>
          Confusion matrix: rows are the true class, columns the predicted class; shading is the
          share of the row.
        </caption>
        <thead>
          <tr>
            <th scope="col">true ↓ / predicted →</th>
            {classes.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {classes.map((c, i) => {
            const row = confusion[i] ?? [];
            const total = row.reduce((a, b) => a + b, 0);
            return (
              <tr key={c}>
                <th scope="row">{c}</th>
                {classes.map((p, j) => {
                  const n = row[j] ?? 0;
                  const share = total > 0 ? n / total : 0;
                  return (
                    <td
                      key={p}
                      style={{
                        background: heatColour(share),
                        color: share > 0.55 ? '#fff' : undefined,
                      }}
                      className={i === j ? 'diagonal' : undefined}
                      title={`true ${c}, predicted ${p}: ${n} (${(share * 100).toFixed(0)}% of the row)`}
                    >
                      {n}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
