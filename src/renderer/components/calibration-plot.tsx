import type { EvaluationResult } from '../../shared/site-api';
import { linearScale } from '../format/plot-scale';

const W = 360;
const H = 320;
const M = { top: 12, right: 12, bottom: 40, left: 48 };
const TICKS = [0, 0.2, 0.4, 0.6, 0.8, 1];

/** Reliability diagram: accuracy against confidence per bin; the diagonal is perfect calibration. */
export function CalibrationPlot({
  bins,
  ece,
}: {
  bins: EvaluationResult['calibration'];
  ece: number;
}) {
  const sx = linearScale(0, 1, M.left, W - M.right);
  const sy = linearScale(0, 1, H - M.bottom, M.top);
  const used = bins.filter((b) => b.count > 0);
  const maxCount = Math.max(1, ...used.map((b) => b.count));
  const line = used
    .map(
      (b, i) => `${i === 0 ? 'M' : 'L'}${sx(b.confidence).toFixed(1)},${sy(b.accuracy).toFixed(1)}`,
    )
    .join('');
  return (
    <figure className="plot">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-labelledby="cal-title cal-desc"
        className="plot-svg plot-square"
      >
        <title id="cal-title">Calibration: accuracy against confidence</title>
        <desc id="cal-desc">
          {`${used.length} confidence bins; expected calibration error ${ece.toFixed(3)}. ` +
            used
              .map(
                (b) =>
                  `confidence ${b.confidence.toFixed(2)}: accuracy ${b.accuracy.toFixed(2)} over ${b.count}`,
              )
              .join('; ')}
        </desc>
        <rect
          x={M.left}
          y={M.top}
          width={W - M.left - M.right}
          height={H - M.top - M.bottom}
          className="plot-area"
        />
        {TICKS.map((t) => (
          <g key={t}>
            <line x1={sx(t)} x2={sx(t)} y1={M.top} y2={H - M.bottom} className="grid" />
            <line x1={M.left} x2={W - M.right} y1={sy(t)} y2={sy(t)} className="grid" />
            <text x={sx(t)} y={H - M.bottom + 16} textAnchor="middle" className="tick">
              {t}
            </text>
            <text x={M.left - 6} y={sy(t) + 4} textAnchor="end" className="tick">
              {t}
            </text>
          </g>
        ))}
        <line x1={sx(0)} y1={sy(0)} x2={sx(1)} y2={sy(1)} className="diagonal-line" />
        {line && <path d={line} className="calibration-line" />}
        {used.map((b, i) => (
          <circle
            key={i}
            cx={sx(b.confidence)}
            cy={sy(b.accuracy)}
            r={3 + 6 * Math.sqrt(b.count / maxCount)}
            className="calibration-point"
          >
            <title>{`confidence ${b.confidence.toFixed(2)}, accuracy ${b.accuracy.toFixed(2)}, ${b.count} samples`}</title>
          </circle>
        ))}
        <text x={(M.left + W - M.right) / 2} y={H - 6} textAnchor="middle" className="axis-label">
          confidence
        </text>
        <text
          transform={`translate(12 ${(M.top + H - M.bottom) / 2}) rotate(-90)`}
          textAnchor="middle"
          className="axis-label"
        >
          accuracy
        </text>
      </svg>
      <figcaption className="muted">
        Dashed: perfect calibration. Point size: samples in the bin. ECE {ece.toFixed(3)}.
      </figcaption>
    </figure>
  );
}
