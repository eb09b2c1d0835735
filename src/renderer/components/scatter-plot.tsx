import { classColour, linearScale, niceTicks, paddedExtent } from '../format/plot-scale';

export type ScatterLocal = { x: number; y: number; label: string; imageId: number };
export type ScatterOutgoing = { x: number; y: number; label: string; blocked: boolean };

const W = 640;
const H = 400;
const M = { top: 16, right: 16, bottom: 36, left: 48 };

/**
 * Outgoing rows against the local images they summarize, in the backend's 2-D projection. Local
 * points are small and faint (they never leave); outgoing rows are diamonds, blocked rows crosses.
 */
export function ScatterPlot({
  local,
  outgoing,
  classes,
  highlightImageId,
}: {
  local: readonly ScatterLocal[];
  outgoing: readonly ScatterOutgoing[];
  classes: readonly string[];
  highlightImageId?: number | null;
}) {
  const xs = [...local.map((p) => p.x), ...outgoing.map((p) => p.x)];
  const ys = [...local.map((p) => p.y), ...outgoing.map((p) => p.y)];
  const [x0, x1] = paddedExtent(xs);
  const [y0, y1] = paddedExtent(ys);
  const sx = linearScale(x0, x1, M.left, W - M.right);
  const sy = linearScale(y0, y1, H - M.bottom, M.top);
  const colour = (label: string) =>
    classColour(Math.max(0, classes.indexOf(label)), classes.length);
  const highlighted = local.find((p) => p.imageId === highlightImageId);
  const sent = outgoing.filter((o) => !o.blocked).length;

  return (
    <figure className="plot">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-labelledby="scatter-title scatter-desc"
        className="plot-svg"
      >
        <title id="scatter-title">
          Outgoing rows and local images, projected to two dimensions
        </title>
        <desc id="scatter-desc">
          {`${local.length} local images (stay on this computer) and ${outgoing.length} outgoing rows, ${sent} to be sent and ${outgoing.length - sent} blocked.`}
        </desc>
        <rect
          x={M.left}
          y={M.top}
          width={W - M.left - M.right}
          height={H - M.top - M.bottom}
          className="plot-area"
        />
        {niceTicks(x0, x1, 6).map((t) => (
          <g key={`x${t}`}>
            <line x1={sx(t)} x2={sx(t)} y1={M.top} y2={H - M.bottom} className="grid" />
            <text x={sx(t)} y={H - M.bottom + 16} textAnchor="middle" className="tick">
              {t}
            </text>
          </g>
        ))}
        {niceTicks(y0, y1, 5).map((t) => (
          <g key={`y${t}`}>
            <line x1={M.left} x2={W - M.right} y1={sy(t)} y2={sy(t)} className="grid" />
            <text x={M.left - 6} y={sy(t) + 4} textAnchor="end" className="tick">
              {t}
            </text>
          </g>
        ))}
        <text x={(M.left + W - M.right) / 2} y={H - 4} textAnchor="middle" className="axis-label">
          component 1
        </text>
        <text
          transform={`translate(12 ${(M.top + H - M.bottom) / 2}) rotate(-90)`}
          textAnchor="middle"
          className="axis-label"
        >
          component 2
        </text>
        {local.map((p) => (
          <circle
            key={`l${p.imageId}`}
            cx={sx(p.x)}
            cy={sy(p.y)}
            r={3}
            fill={colour(p.label)}
            className="local-point"
          />
        ))}
        {outgoing.map((p, i) =>
          p.blocked ? (
            <path
              key={`o${i}`}
              d={`M${sx(p.x) - 6},${sy(p.y) - 6}l12,12m0,-12l-12,12`}
              className="blocked-point"
            />
          ) : (
            <rect
              key={`o${i}`}
              x={sx(p.x) - 6}
              y={sy(p.y) - 6}
              width={12}
              height={12}
              transform={`rotate(45 ${sx(p.x)} ${sy(p.y)})`}
              fill={colour(p.label)}
              className="outgoing-point"
            />
          ),
        )}
        {highlighted && (
          <circle cx={sx(highlighted.x)} cy={sy(highlighted.y)} r={9} className="highlight-ring" />
        )}
      </svg>
      <figcaption>
        <ul className="legend">
          {classes.map((c, i) => (
            <li key={c}>
              <span
                className="swatch"
                style={{ background: classColour(i, classes.length) }}
                aria-hidden="true"
              />{' '}
              {c}
            </li>
          ))}
          <li>
            <span className="legend-dot" aria-hidden="true">
              ●
            </span>{' '}
            local image (stays here)
          </li>
          <li>
            <span className="legend-diamond" aria-hidden="true">
              ◆
            </span>{' '}
            outgoing row
          </li>
          <li>
            <span className="legend-cross" aria-hidden="true">
              ✕
            </span>{' '}
            blocked row (not sent)
          </li>
        </ul>
      </figcaption>
    </figure>
  );
}
